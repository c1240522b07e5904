package main

import (
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/internal/testenv"
)

// TestChaosLedgerIsPerUser injects a fault without --ledger and cleans it
// up without --ledger: both find the per-user ledger under the state
// directory, whatever the working directory (issue 10: cleanup run from
// another directory said "nothing to clean up" while a toxic was live).
// proxy list and status agree on which toxic the ledger holds.
func TestChaosLedgerIsPerUser(t *testing.T) {
	t.Parallel()
	url := chaosServer(t)
	home := t.TempDir()
	vars := map[string]string{"HOME": home}
	chaosCLI := func(args ...string) (int, string, string) {
		return runCLIEnv(t, vars, append(append([]string{"chaos"}, args...), "--toxiproxy-url", url)...)
	}
	if code, out, errs := chaosCLI("inject", "latency", "--proxy", "db", "--latency", "300ms"); code != 0 || !strings.Contains(out, "it stays until") {
		t.Fatalf("inject: exit %d\n%s%s", code, out, errs)
	}
	want := filepath.Join(home, ".local", "state", "faultline", "ledger.jsonl")
	if _, err := os.Stat(want); err != nil {
		t.Fatalf("the ledger is not at %s: %v", want, err)
	}
	code, status, _ := chaosCLI("status")
	if code != 0 || !strings.Contains(status, "ledger "+want+": 1 active fault(s)") || !strings.Contains(status, "(in the ledger)") {
		t.Fatalf("status: exit %d\n%s", code, status)
	}
	code, list, errs := chaosCLI("proxy", "list")
	if code != 0 || !strings.Contains(list, "(in the ledger)") || strings.Contains(list, "not in the ledger") {
		t.Fatalf("proxy list disagrees with status: exit %d\n%s%s\nstatus:\n%s", code, list, errs, status)
	}
	// $XDG_STATE_HOME moves it; $FAULTLINE_LEDGER names it.
	xdg := t.TempDir()
	if code, out, _ := runCLIEnv(t, map[string]string{"HOME": home, "XDG_STATE_HOME": xdg}, "chaos", "status"); code != 0 || !strings.Contains(out, filepath.Join(xdg, "faultline", "ledger.jsonl")+" does not exist") {
		t.Fatalf("status under XDG_STATE_HOME: exit %d\n%s", code, out)
	}
	if code, out, errs := chaosCLI("cleanup"); code != 0 || !strings.Contains(out, "reverted") {
		t.Fatalf("cleanup: exit %d\n%s%s", code, out, errs)
	}
	if n := toxicsOn(t, url); n != 0 {
		t.Fatalf("%d toxics after cleanup", n)
	}
	if code, out, _ := chaosCLI("proxy", "list"); code != 0 || strings.Contains(out, "toxic ") {
		t.Fatalf("proxy list after cleanup: exit %d\n%s", code, out)
	}
}

// TestChaosLedgerMissingOrCorrupt: a ledger that was named but does not
// exist, or that holds something other than ledger records, must never
// read as "no active fault" with exit 0.
func TestChaosLedgerMissingOrCorrupt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	garbage := make([]byte, 4096)
	rand.Read(garbage)
	random := writeFile(t, dir, "random.jsonl", string(garbage))
	// A line that is not a record, in an otherwise empty ledger.
	mixed := writeFile(t, dir, "mixed.jsonl", "not a ledger line\n")
	missing := filepath.Join(dir, "nonexistent.jsonl")
	home := t.TempDir()
	tests := []struct {
		name     string
		vars     map[string]string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"status of a named missing ledger", nil, []string{"status", "--ledger", missing}, 2, "", "ledger " + missing + " does not exist"},
		{"cleanup of a named missing ledger", nil, []string{"cleanup", "--ledger", missing}, 2, "", "does not exist"},
		{"missing ledger named by the environment", map[string]string{"FAULTLINE_LEDGER": missing}, []string{"cleanup"}, 2, "", "does not exist"},
		{"status of random bytes", nil, []string{"status", "--ledger", random}, 5, "WARNING", "unreadable line(s)"},
		{"cleanup of random bytes", nil, []string{"cleanup", "--ledger", random}, 6, "", "faults it recorded may still be active"},
		{"status of a ledger with a bad line", nil, []string{"status", "--ledger", mixed}, 5, "0 active fault(s) among the lines that could be read", "line 1: \"not a ledger line\""},
		{"the default ledger, never written", map[string]string{"HOME": home}, []string{"status"}, 0, "does not exist: no fault was ever recorded in it", ""},
		{"cleanup of the default ledger, never written", map[string]string{"HOME": home}, []string{"cleanup"}, 0, "nothing to clean up", ""},
		{"no place for a ledger", nil, []string{"status"}, 2, "", "no place for the fault ledger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errs := runCLIEnv(t, tt.vars, append([]string{"chaos"}, tt.args...)...)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) || !strings.Contains(errs, tt.wantErr) {
				t.Fatalf("exit %d, want %d\nstdout (want %q):\n%s\nstderr (want %q):\n%s", code, tt.wantCode, tt.wantOut, out, tt.wantErr, errs)
			}
			if tt.wantCode != 0 && strings.Contains(out, "no active fault") {
				t.Errorf("says %q", "no active fault")
			}
		})
	}
}

// TestChaosNotesTheOldLedger: a ledger where faultline used to keep it
// (.faultline/ledger.jsonl under the working directory) is not read any
// more, so status and cleanup point at it rather than stay silent.
func TestChaosNotesTheOldLedger(t *testing.T) {
	t.Parallel()
	bin := testenv.BuildFaultline(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".faultline"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, ".faultline"), "ledger.jsonl", "")
	current := writeFile(t, t.TempDir(), "ledger.jsonl", "")
	for _, sub := range []string{"status", "cleanup"} {
		cmd := exec.Command(bin, "chaos", sub)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "FAULTLINE_LEDGER="+current)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "note: .faultline/ledger.jsonl is a ledger in the old place") {
			t.Errorf("%s: %v\n%s", sub, err, out)
		}
	}
}
