package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// wantLine is a corpus file's expectation: "# want: LINE:COL fragment".
var wantLine = regexp.MustCompile(`^# want: (\d+:\d+) (.*)$`)

// TestBrokenExperiments runs `faultline validate` on every file of the
// corpus of broken experiments. Each file says in its header what is wrong
// with it and where ("# want: 12:15 want a duration"); validate must exit 2
// within 5 s and print exactly the problems wanted, each at file:line:col
// of the value at fault, so that a consequence reported as a problem of
// its own fails the test too.
func TestBrokenExperiments(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../experiments/testdata/broken/*.yaml")
	if err != nil || len(files) < 60 {
		t.Fatalf("%d files in the corpus (%v), want at least 60", len(files), err)
	}
	for _, file := range files {
		// One file at a time: in parallel they would take both cores for a
		// moment, and this package's signal tests judge real latencies.
		t.Run(filepath.Base(file), func(t *testing.T) {
			wants := corpusWants(t, file)
			start := time.Now()
			code, stdout, stderr := runCLI(t, "validate", file)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("validate took %v, want under 5s", took)
			}
			if code != 2 {
				t.Fatalf("exit code %d, want 2\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			got := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			for _, w := range wants {
				prefix := file + ":" + w[0] + ": "
				found := false
				for _, line := range got {
					found = found || strings.HasPrefix(line, prefix) && strings.Contains(line, w[1])
				}
				if !found {
					t.Errorf("want a problem %s...%s...; got:\n%s", prefix, w[1], stderr)
				}
			}
			if len(got) != len(wants) {
				t.Errorf("%d problems, want %d:\n%s", len(got), len(wants), stderr)
			}
		})
	}
}

// corpusWants reads the "# want:" lines at the top of file.
func corpusWants(t *testing.T, file string) [][2]string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var wants [][2]string
	sc := bufio.NewScanner(f)
	for sc.Scan() && strings.HasPrefix(sc.Text(), "#") {
		if m := wantLine.FindStringSubmatch(sc.Text()); m != nil {
			wants = append(wants, [2]string{m[1], m[2]})
		}
	}
	if len(wants) == 0 {
		t.Fatalf("%s has no '# want: LINE:COL fragment' line in its header", file)
	}
	return wants
}

// TestRunRefusesBadTimeScales checks that a time scale that would make
// times meaningless (not a number, infinite, overflowing, vanishing) is a
// usage error before anything starts.
func TestRunRefusesBadTimeScales(t *testing.T) {
	t.Parallel()
	for _, scale := range []string{"NaN", "Inf", "-1", "0", "1e300", "1e-300"} {
		t.Run(scale, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCLI(t, "run", "../../examples/quickstart.yaml", "--dry-run", "--time-scale", scale)
			if code != 2 || !strings.Contains(stderr, "time scale") || stdout != "" {
				t.Errorf("exit %d, stderr %q, stdout %q; want 2, a message about the time scale and no plan", code, stderr, stdout)
			}
		})
	}
}
