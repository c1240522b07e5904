package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// runCLI runs faultline in-process with args and returns its exit code and
// what it printed.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCLIEnv(t, nil, args...)
}

// runCLIEnv is runCLI with the environment variables vars.
func runCLIEnv(t *testing.T, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &env{stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }})
	return code, out.String(), errb.String()
}

// TestCobraUsageErrorsExit2 checks that the argument errors cobra produces
// itself exit 2 like every other usage error, and that help exits 0.
func TestCobraUsageErrorsExit2(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		want int
	}{
		{[]string{"no-such-command"}, 2},
		{[]string{"run"}, 2},                         // requires exactly one argument
		{[]string{"run", "a.yaml", "b.yaml"}, 2},     // too many
		{[]string{"validate"}, 2},                    // requires at least one
		{[]string{"version", "extra"}, 2},            // takes none
		{[]string{"chaos", "status", "extra"}, 2},    // a subcommand's check
		{[]string{"completion", "bash", "extra"}, 2}, // cobra's own command
		{[]string{"run", "--no-such-flag", "x"}, 2},
		{[]string{"--help"}, 0},
		{[]string{}, 0},
	}
	for _, c := range cases {
		if code, _, stderr := runCLI(t, c.args...); code != c.want {
			t.Errorf("faultline %v: exit %d, want %d; stderr %q", c.args, code, c.want, stderr)
		}
	}
}

// TestFlagValueNames: pflag takes the first `quoted` word of a flag's
// usage as the name of its value in --help, so a quoted YAML key there
// printed "--config targets:" (issue 10). Every value name must be one
// word (key=value and N+k are words here).
func TestFlagValueNames(t *testing.T) {
	t.Parallel()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			name, _ := pflag.UnquoteUsage(f)
			for _, r := range name {
				if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("-_=+", r) {
					t.Errorf("%s --%s: --help names its value %q", c.CommandPath(), f.Name, name)
					break
				}
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot(&env{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}))
}

// TestValidateSaysWhyAFileCannotBeRead checks that validate names a file
// it cannot read (it used to exit 2 without a word) and goes on with the
// others.
func TestValidateSaysWhyAFileCannotBeRead(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	code, stdout, stderr := runCLI(t, "validate", missing, "../../examples/quickstart.yaml")
	if code != 2 || !strings.Contains(stderr, missing) || !strings.Contains(stdout, "quickstart.yaml: ok") {
		t.Errorf("exit %d\nstdout %q\nstderr %q", code, stdout, stderr)
	}
}
