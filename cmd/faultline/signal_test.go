package main

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m, removeDockerImage) }

// TestLoadFirstSignalStopsGracefully runs the real binary: the first SIGINT
// stops the load, prints the summary and exits 130.
func TestLoadFirstSignalStopsGracefully(t *testing.T) {
	t.Parallel()
	bin := testenv.BuildFaultline(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	cmd := exec.Command(bin, "load", srv.URL+"/", "--rate", "100/s", "--duration", "60s")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // let some load run: nothing to poll for
	began := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Fatalf("exit: %v, want 130; stderr %s", err, stderr.String())
	}
	if took := time.Since(began); took > 15*time.Second {
		t.Errorf("took %v to stop after SIGINT", took)
	}
	out := stdout.String()
	if !strings.Contains(out, "interrupted") || !strings.Contains(out, "latency") {
		t.Errorf("no summary after SIGINT:\n%s", out)
	}
}

// TestRunFirstSignalRevertsAndExits130 interrupts real experiments while
// their fault is injected: a toxic (quickstart), an HTTP fault whose proxy
// runs in the faultline process (http-faults) and an in-process CPU stress
// (cpu-stress). The fault must be reverted (the ledger lists nothing
// active), the summary printed, and the exit code 130.
func TestRunFirstSignalRevertsAndExits130(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ example, kind string }{
		{"quickstart", "latency"},
		{"http-faults", "http_abort"},
		{"cpu-stress", "cpu_stress"},
	} {
		t.Run(tc.example, func(t *testing.T) {
			t.Parallel()
			runAndInterrupt(t, tc.example, tc.kind)
		})
	}
}

// runUntilInjected starts `faultline run examples/<example>.yaml` at a
// time scale of 0.3 and returns once its fault of kind is injected, with
// its stdout, its ledger and a func returning what it has logged so far.
func runUntilInjected(t *testing.T, example, kind string) (*exec.Cmd, *bytes.Buffer, string, func() string) {
	t.Helper()
	bin := testenv.BuildFaultline(t)
	dir := t.TempDir()
	ledger := filepath.Join(dir, "ledger.jsonl")
	cmd := exec.Command(bin, "run", "../../examples/"+example+".yaml", "--time-scale", "0.3", "--out", dir, "--ledger", ledger)
	stdout := &bytes.Buffer{}
	cmd.Stdout = stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	injected, ended := make(chan struct{}), make(chan struct{})
	var log bytes.Buffer
	var mu sync.Mutex
	logged := func() string {
		mu.Lock()
		defer mu.Unlock()
		return log.String()
	}
	go func() {
		defer close(ended) // the run ended (its stderr closed)
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			mu.Lock()
			log.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.Contains(sc.Text(), "injected "+kind) {
				once.Do(func() { close(injected) })
			}
		}
	}()
	select {
	case <-injected:
	case <-ended:
		// The run ended before injecting (a steady state that did not
		// hold on a busy machine): say so now rather than at the timeout.
		t.Fatalf("the run ended (%v) before the fault was injected; log:\n%s", cmd.Wait(), logged())
	case <-time.After(90 * time.Second):
		t.Fatalf("the fault was never injected; log:\n%s", logged())
	}
	return cmd, stdout, ledger, logged
}

// runAndInterrupt runs examples/<example>.yaml, sends SIGINT once its
// fault of kind is injected, and checks that everything was reverted.
func runAndInterrupt(t *testing.T, example, kind string) {
	cmd, stdout, ledger, logged := runUntilInjected(t, example, kind)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Fatalf("exit: %v, want 130\nstdout:\n%s\nlog:\n%s", err, stdout.String(), logged())
	}
	if !strings.Contains(stdout.String(), "interrupted") || !strings.Contains(stdout.String(), "reverted") {
		t.Errorf("summary after SIGINT:\n%s", stdout.String())
	}
	raw, err := os.ReadFile(ledger)
	if err != nil {
		t.Fatal(err)
	}
	// Every fault and proxy the run recorded was reverted.
	injects, reverts := strings.Count(string(raw), `"op":"inject"`), strings.Count(string(raw), `"op":"revert"`)
	if injects == 0 || injects != reverts {
		t.Errorf("ledger: %d injected, %d reverted:\n%s", injects, reverts, raw)
	}
}

// TestRunSIGKILLThenCleanup kills `faultline run` with SIGKILL during an
// HTTP fault and during an in-process cpu_stress: both lived in the killed
// process (its HTTP proxy, its in-process store), so `faultline chaos
// cleanup` has nothing to undo but says so for each, exits 0 and leaves
// nothing active in the ledger.
func TestRunSIGKILLThenCleanup(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ example, kind, note string }{
		{"http-faults", "http_abort", "the embedded toxiproxy"},
		{"cpu-stress", "cpu_stress", "nothing to do: service store ended with pid"},
	} {
		t.Run(tc.example, func(t *testing.T) {
			t.Parallel()
			cmd, _, ledger, logged := runUntilInjected(t, tc.example, tc.kind)
			cmd.Process.Kill()
			if code := exitCodeOf(t, cmd.Wait()); code != -int(syscall.SIGKILL) {
				t.Fatalf("exit %d, want killed\n%s", code, logged())
			}
			out, err := exec.Command(testenv.BuildFaultline(t), "chaos", "cleanup", "--ledger", ledger).CombinedOutput()
			if code := exitCodeOf(t, err); code != 0 || !strings.Contains(string(out), tc.note) || !strings.Contains(string(out), tc.kind) {
				t.Fatalf("cleanup exit %d, want 0 saying %q of %s:\n%s", code, tc.note, tc.kind, out)
			}
			l, _ := chaos.OpenLedger(ledger)
			if active, _ := l.Active(); len(active) != 0 {
				t.Errorf("%d active in the ledger after cleanup:\n%s", len(active), out)
			}
		})
	}
}
