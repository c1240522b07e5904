package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/report/output"
)

// env is the process state a command may use, injected so that tests run
// commands in-process and check their output and exit codes.
type env struct {
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// stderrIsTerminal reports whether live progress may be drawn on stderr.
func (e *env) stderrIsTerminal() bool {
	f, ok := e.stderr.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// subcommands holds the constructors of the top-level commands; each
// cmd_<name>.go file adds its own in init, so adding a command touches no
// other file.
var subcommands = map[string]func(*env) *cobra.Command{}

func register(name string, build func(*env) *cobra.Command) {
	if _, dup := subcommands[name]; dup {
		panic("faultline: command registered twice: " + name)
	}
	subcommands[name] = build
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "faultline",
		Short: "Load testing and chaos engineering in one binary",
		Long: `faultline drives real traffic at services, measures their steady state,
injects faults, decides whether the hypothesis held, and writes HDR latency
reports and capacity estimates.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return exitcode.Wrap(err, exitcode.Usage)
	})
	names := make([]string, 0, len(subcommands))
	for name := range subcommands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		root.AddCommand(subcommands[name](e))
	}
	// Cobra adds these two when it executes; added now, the walk below
	// reaches their argument checks too.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	usageArgs(root)
	addExitStatus(root)
	return root
}

// usageArgs gives every command's argument check exit code 2, so that the
// errors cobra produces itself ("accepts 1 arg(s), received 2") carry our
// code like every other usage error.
func usageArgs(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			return exitcode.WrapIfNone(check(cmd, args), exitcode.Usage)
		}
	}
	for _, sub := range c.Commands() {
		usageArgs(sub)
	}
}

// addExitStatus appends the exit-code table to the help of every command.
func addExitStatus(c *cobra.Command) {
	if !strings.Contains(c.Long, "EXIT STATUS") {
		long := c.Long
		if long == "" {
			long = c.Short
		}
		c.Long = long + "\n\n" + exitcode.Table
	}
	for _, sub := range c.Commands() {
		addExitStatus(sub)
	}
}

// run executes the command line and returns the process exit code. Errors are
// printed here, once.
func run(ctx context.Context, args []string, e *env) int {
	root := newRoot(e)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return int(exitcode.OK)
	}
	if cmd == root {
		// The root has no action of its own: an error it returns is cobra's
		// check of the command name ("unknown command").
		err = exitcode.WrapIfNone(err, exitcode.Usage)
	}
	var silent *silentError
	if !errors.As(err, &silent) {
		fmt.Fprintf(e.stderr, "faultline: %v\n", err)
	}
	return int(exitcode.Of(err))
}

// silentError carries an exit code for an outcome the command has already
// reported in full (for example failed thresholds), so run prints nothing more.
type silentError struct{ code exitcode.Code }

func (s *silentError) Error() string { return fmt.Sprintf("exit status %d", s.code) }

// exitSilently returns an error that makes run exit with code and print nothing.
func exitSilently(code exitcode.Code) error {
	if code == exitcode.OK {
		return nil
	}
	return exitcode.Wrap(&silentError{code: code}, code)
}

// usageErrorf reports bad input (a flag, an argument, a file) with exit code 2.
func usageErrorf(format string, args ...any) error {
	return exitcode.Errorf(exitcode.Usage, format, args...)
}

// checkOutputs reports, as a usage error naming its flag, an output path
// that could not be written (a missing folder, a directory, a dangling
// link), so that a command finds out before the work whose result it
// would lose. Empty paths are not given.
func checkOutputs(paths map[string]string) error {
	flags := make([]string, 0, len(paths))
	for flag := range paths {
		flags = append(flags, flag)
	}
	sort.Strings(flags)
	for _, flag := range flags {
		if paths[flag] == "" {
			continue
		}
		if err := output.Check(paths[flag]); err != nil {
			return usageErrorf("%s: %v", flag, err)
		}
	}
	return nil
}
