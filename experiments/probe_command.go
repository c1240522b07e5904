package experiments

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

func init() {
	registerProbe(probeKind{name: "command", newCheck: func() probeCheck { return new(CommandProbe) }})
}

// CommandProbe runs a command and checks its exit code and output.
type CommandProbe struct {
	Run           []string      `yaml:"run"`
	ExitCode      int           `yaml:"exit_code"`
	StdoutMatches string        `yaml:"stdout_matches"`
	Timeout       time.Duration `yaml:"timeout"`
}

func (c *CommandProbe) check(ctx context.Context, resolve func(string) string) probeResult {
	out, code, err := runCommand(ctx, c.Run, c.Timeout, resolve)
	measured := fmt.Sprintf("exit %d", code)
	if err != nil {
		return probeResult{Verdict: Deviated, Measured: measured, Detail: err.Error()}
	}
	if code != c.ExitCode {
		return probeResult{Verdict: Deviated, Measured: measured, Detail: fmt.Sprintf("exit code %d, want %d", code, c.ExitCode)}
	}
	if c.StdoutMatches != "" && !regexp.MustCompile(c.StdoutMatches).Match(out) {
		return probeResult{Verdict: Deviated, Measured: measured, Detail: fmt.Sprintf("stdout does not match %q", c.StdoutMatches)}
	}
	return probeResult{Verdict: Held, Measured: measured, Detail: "ok"}
}

// runCommand runs argv with a timeout and returns its stdout and exit code.
// An error means it could not run or did not finish in time.
func runCommand(ctx context.Context, argv []string, timeout time.Duration, resolve func(string) string) ([]byte, int, error) {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	args := make([]string, len(argv))
	for i, a := range argv {
		args[i] = resolve(a)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return stdout.Bytes(), 0, nil
	case ctx.Err() != nil:
		return stdout.Bytes(), -1, fmt.Errorf("%s did not finish within %s", args[0], timeout)
	case errors.As(err, &exit):
		return stdout.Bytes(), exit.ExitCode(), nil
	default:
		return stdout.Bytes(), -1, fmt.Errorf("run %s: %w", args[0], err)
	}
}

func (c *CommandProbe) validate(v *validator, path string) {
	if len(c.Run) == 0 {
		v.problem(path+".run", "a command probe needs run: [program, args...]")
	}
	if c.StdoutMatches != "" {
		if _, err := regexp.Compile(c.StdoutMatches); err != nil {
			v.problem(path+".stdout_matches", "%v", err)
		}
	}
}

func (c *CommandProbe) describe() string { return "command " + strings.Join(c.Run, " ") }
