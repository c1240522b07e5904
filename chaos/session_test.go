package chaos

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// recordingService is an in-memory Crashable that records when it crashed
// and was restored, for the timing logic of Hold.
type recordingService struct {
	mu                   sync.Mutex
	crashedAt, restoreAt time.Time
	panicOnCrash         bool
	failRestore          bool
}

func (r *recordingService) Crash(context.Context) error {
	r.mu.Lock()
	r.crashedAt = time.Now()
	r.mu.Unlock()
	if r.panicOnCrash {
		panic("crash went wrong")
	}
	return nil
}

func (r *recordingService) Restore(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failRestore {
		return errors.New("port taken")
	}
	r.restoreAt = time.Now()
	return nil
}

func TestHold(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		hold        time.Duration
		cancelAfter time.Duration // 0: never
		failRestore bool
		wantHeld    time.Duration
		wantCode    int
	}{
		{name: "reverts when the time is up", hold: 30 * time.Second, wantHeld: 30 * time.Second, wantCode: 0},
		{name: "reverts on the first signal", hold: time.Minute, cancelAfter: time.Second, wantHeld: time.Second, wantCode: 130},
		{name: "holds until the signal without a duration", cancelAfter: 90 * time.Second, wantHeld: 90 * time.Second, wantCode: 130},
		{name: "a failed revert exits 6", hold: time.Second, failRestore: true, wantCode: 6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ledger := testLedger(t)
			synctest.Test(t, func(t *testing.T) {
				svc := &recordingService{failRestore: tc.failRestore}
				s := NewSession(ledger, &Env{Services: map[string]Crashable{"svc": svc}})
				f, err := New(Spec{Kind: "crash", Service: "svc"})
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if tc.cancelAfter > 0 {
					time.AfterFunc(tc.cancelAfter, cancel)
				}
				err = s.Hold(ctx, f, tc.hold)
				if got := exitOf(err); got != tc.wantCode {
					t.Fatalf("Hold = %v (exit %d), want exit %d", err, got, tc.wantCode)
				}
				active, _ := ledger.Active()
				if tc.failRestore {
					var re *RevertError
					if !errors.As(err, &re) || !strings.Contains(err.Error(), "port taken") || !strings.Contains(err.Error(), ledger.Path()) {
						t.Fatalf("error %v: want a RevertError naming the cause and the ledger", err)
					}
					if len(active) != 1 || active[0].LastError == "" {
						t.Fatalf("ledger after a failed revert: %+v, want the fault still active with its error", active)
					}
					return
				}
				if held := svc.restoreAt.Sub(svc.crashedAt); held != tc.wantHeld {
					t.Fatalf("held %s, want %s", held, tc.wantHeld)
				}
				if len(active) != 0 {
					t.Fatalf("%d active after Hold", len(active))
				}
			})
		})
	}
}

func TestHoldRevertsOnPanic(t *testing.T) {
	t.Parallel()
	ledger := testLedger(t)
	svc := &recordingService{panicOnCrash: true}
	s := NewSession(ledger, &Env{Services: map[string]Crashable{"svc": svc}})
	f, _ := New(Spec{Kind: "crash", Service: "svc"})
	func() {
		defer func() {
			if r := recover(); r != "crash went wrong" {
				t.Fatalf("recovered %v, want the panic raised again", r)
			}
		}()
		s.Hold(context.Background(), f, time.Minute)
	}()
	if svc.restoreAt.IsZero() {
		t.Fatal("the panic left the service crashed")
	}
	if active, _ := ledger.Active(); len(active) != 0 {
		t.Fatalf("%d active after the panic", len(active))
	}
}

// deadProcess returns the owner identity of a process that has ended.
func deadProcess(t *testing.T) Owner {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return Owner{PID: cmd.Process.Pid, Start: 1, Host: self().Host}
}

// liveProcess starts a process that lives until the test ends: it is
// killed by the test's cleanup, not by a clock, because the parallel
// subtests that read it may wait for a free slot longer than any short
// sleep on a busy machine (they did: a "sleep 60" had ended, and counted as
// ended since a zombie does, before its subtest ran).
func liveProcess(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "3600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// TestRevertLedgerAfterACrash stands for `faultline chaos cleanup` after the
// injecting process was killed: the session is abandoned without reverting,
// and RevertLedger, with a fresh environment, finds and reverts everything.
func TestRevertLedgerAfterACrash(t *testing.T) {
	t.Parallel()
	for _, srv := range toxiproxyServers(t) {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			name, client, _ := proxyToBackend(t, srv.url)
			ledger := testLedger(t)
			s := NewSession(ledger, &Env{ToxiproxyURL: srv.url, ToxiproxyEmbedded: srv.embedded})
			for _, spec := range []Spec{
				{Kind: "latency", Proxy: name, Latency: time.Second},
				{Kind: "timeout", Proxy: name},
				{Kind: "down", Proxy: name},
			} {
				f, err := New(spec)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.Inject(ctx, f); err != nil {
					t.Fatal(err)
				}
			}
			var out strings.Builder
			n, err := RevertLedger(ctx, ledger, &Env{}, &out)
			if err != nil || n != 3 {
				t.Fatalf("RevertLedger = %d, %v; want 3 reverted\n%s", n, err, out.String())
			}
			got, err := client.Proxy(name)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.ActiveToxics) != 0 || !got.Enabled {
				t.Fatalf("after cleanup: toxics %v, enabled %v\n%s", got.ActiveToxics, got.Enabled, out.String())
			}
			if active, _ := ledger.Active(); len(active) != 0 {
				t.Fatalf("%d active after cleanup", len(active))
			}
			n, err = RevertLedger(ctx, ledger, &Env{}, nil)
			if err != nil || n != 0 {
				t.Fatalf("second cleanup = %d, %v; want nothing to do", n, err)
			}
		})
	}
}

func TestRevertLedgerOutcomes(t *testing.T) {
	t.Parallel()
	deadPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	deadURL := fmt.Sprintf("http://127.0.0.1:%d", deadPort)
	toxic := toxicDef{Name: "faultline_latency_x", Type: "latency", Stream: "downstream", Toxicity: 1}
	dead := deadProcess(t)
	live := liveProcess(t)
	liveOwner := Owner{PID: live.Process.Pid, Start: processStart(live.Process.Pid), Host: self().Host}
	cases := []struct {
		name       string
		kind       string
		inj        Injection
		wantCode   int
		wantOut    string
		wantActive int
	}{
		{
			name:     "an embedded server that ended with its process",
			kind:     "latency",
			inj:      &toxicInjection{Server: toxiServer{URL: deadURL, Embedded: true, Owner: &dead}, Proxy: proxyTarget{Name: "db"}, Toxic: toxic},
			wantCode: 0, wantOut: "nothing to do: the embedded toxiproxy " + deadURL + " ended with pid",
		},
		{
			name:     "an external server that cannot be reached",
			kind:     "latency",
			inj:      &toxicInjection{Server: toxiServer{URL: deadURL}, Proxy: proxyTarget{Name: "db"}, Toxic: toxic},
			wantCode: 6, wantOut: "REVERT FAILED", wantActive: 1,
		},
		{
			name:     "a crashed service whose process ended",
			kind:     "crash",
			inj:      &crashInjection{Service: "catalog", Owner: dead},
			wantCode: 0, wantOut: "nothing to do: service catalog ended with pid",
		},
		{
			name:     "a crashed service whose process still runs",
			kind:     "crash",
			inj:      &crashInjection{Service: "catalog", Owner: liveOwner},
			wantCode: 0, wantOut: "left to its owner", wantActive: 1,
		},
		{
			name:     "a process signal that cannot be undone",
			kind:     "signal",
			inj:      &signalInjection{PID: dead.PID, Signal: "SIGKILL", Restore: true},
			wantCode: 0, wantOut: "nothing to undo: SIGKILL",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ledger := testLedger(t)
			if _, err := ledger.Record(tc.kind, tc.inj); err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			_, err := RevertLedger(context.Background(), ledger, &Env{}, &out)
			if got := exitOf(err); got != tc.wantCode {
				t.Fatalf("RevertLedger = %v (exit %d), want exit %d", err, got, tc.wantCode)
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Fatalf("output %q does not contain %q", out.String(), tc.wantOut)
			}
			if tc.wantCode == 6 && !strings.Contains(err.Error(), "toxiproxy unreachable at "+deadURL) {
				t.Fatalf("error %q does not name the URL tried", err)
			}
			if active, _ := ledger.Active(); len(active) != tc.wantActive {
				t.Fatalf("%d active after cleanup, want %d", len(active), tc.wantActive)
			}
		})
	}
}
