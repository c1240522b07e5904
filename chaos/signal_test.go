package chaos

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// processState reads the state letter of pid from /proc (R, S, T, Z...).
func processState(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[0]
}

// waitState polls until pid is in one of the states, or fails the test.
func waitState(t *testing.T, pid int, states string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := processState(t, pid)
		if strings.Contains(states, st) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d in state %s, want one of %s", pid, st, states)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSignalFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		signal      string
		usePidfile  bool
		restore     *bool
		stateDuring string
		stateAfter  string
	}{
		{name: "SIGSTOP pauses, revert continues", signal: "SIGSTOP", stateDuring: "T", stateAfter: "SR"},
		{name: "SIGSTOP by pidfile", signal: "stop", usePidfile: true, stateDuring: "T", stateAfter: "SR"},
		{name: "SIGSTOP with restore false stays stopped", signal: "SIGSTOP", restore: ptr(false), stateDuring: "T", stateAfter: "T"},
		{name: "SIGKILL kills for good", signal: "", stateDuring: "Z", stateAfter: "Z"},
		{name: "SIGTERM", signal: "SIGTERM", stateDuring: "Z", stateAfter: "Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command("sleep", "60")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pid := cmd.Process.Pid
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			spec := Spec{Kind: "signal", Signal: tc.signal, Restore: tc.restore}
			if tc.usePidfile {
				spec.Pidfile = filepath.Join(t.TempDir(), "app.pid")
				os.WriteFile(spec.Pidfile, []byte(strconv.Itoa(pid)+"\n"), 0o644)
			} else {
				spec.PID = pid
			}
			f, err := New(spec)
			if err != nil {
				t.Fatal(err)
			}
			s := NewSession(testLedger(t), &Env{})
			e, err := s.Inject(context.Background(), f)
			if err != nil {
				t.Fatal(err)
			}
			// The killed child stays a zombie until cmd.Wait in cleanup.
			waitState(t, pid, tc.stateDuring)
			if err := s.Revert(context.Background(), e); err != nil {
				t.Fatal(err)
			}
			waitState(t, pid, tc.stateAfter)
		})
	}
}

func TestSignalBadTargets(t *testing.T) {
	t.Parallel()
	dead := deadProcess(t)
	cases := []struct {
		name string
		spec Spec
		want string
	}{
		{"no such process", Spec{Kind: "signal", PID: dead.PID}, "no process with pid"},
		{"faultline itself", Spec{Kind: "signal", PID: os.Getpid()}, "is faultline itself"},
		{"missing pidfile", Spec{Kind: "signal", Pidfile: "/nonexistent/app.pid"}, "read pidfile"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := New(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			_, err = NewSession(testLedger(t), &Env{}).Inject(context.Background(), f)
			if err == nil || !strings.Contains(err.Error(), tc.want) || exitOf(err) != 5 {
				t.Fatalf("inject = %v, want exit 5 with %q", err, tc.want)
			}
		})
	}
}
