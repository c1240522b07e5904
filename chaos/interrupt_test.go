package chaos

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/chaos/docker"
	"github.com/faultline-dev/faultline/internal/testenv"
)

// lockedBuffer collects a Session's lines while the test reads them.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestContainerKindsRevertOnInterrupt holds each resource and network
// container kind with Session.Hold, as `faultline chaos inject --for` and
// the runner do, and cancels the context once the fault is in effect (the
// first Ctrl-C or SIGTERM, or an abort, which ends the fault the same way):
// Hold returns exit code 130, the fault is undone on the container, and the
// ledger lists nothing. SIGKILL and cleanup are covered per kind by the
// ...CleanupAfterACrash tests and TestPartitionCutsAndRestores.
func TestContainerKindsRevertOnInterrupt(t *testing.T) {
	t.Parallel()
	eng, image := dockerEngine(t)
	limits := func(t *testing.T, id string) docker.Limits {
		l, err := eng.Limits(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	networks := func(t *testing.T, id string) int {
		n, err := eng.Networking(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return len(n.Endpoints)
	}
	cases := []struct {
		spec    Spec
		faulted func(t *testing.T, id string) bool
		note    string // in the revert line
	}{
		{Spec{Kind: "cpu_limit", CPUs: 0.25}, func(t *testing.T, id string) bool { return limits(t, id).CPUQuota == 25_000 }, "limits restored"},
		{Spec{Kind: "memory_limit", Memory: 64 << 20}, func(t *testing.T, id string) bool { return limits(t, id).Memory == 64<<20 }, "limits restored"},
		{Spec{Kind: "partition"}, func(t *testing.T, id string) bool { return networks(t, id) == 0 }, "back on bridge"},
		{Spec{Kind: "cpu_stress", Load: 20}, nil, "stressor stopped"},
		{Spec{Kind: "memory_stress", Size: 16 << 20}, nil, "stressor stopped"},
	}
	for _, tc := range cases {
		t.Run(tc.spec.Kind, func(t *testing.T) {
			t.Parallel()
			_, cs := runContainers(t, eng, image, 1)
			spec := tc.spec
			spec.Names = []string{cs[0].name}
			f, err := New(spec)
			if err != nil {
				t.Fatal(err)
			}
			ledger := testLedger(t)
			env := closingEnv(t)
			env.StressBinary = testenv.BuildFaultline(t)
			s := NewSession(ledger, env)
			out := &lockedBuffer{}
			s.Out = out
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			held := make(chan error, 1)
			go func() { held <- s.Hold(ctx, f, time.Hour) }()
			deadline := time.Now().Add(60 * time.Second)
			for !strings.Contains(out.String(), "injected ") || (tc.faulted != nil && !tc.faulted(t, cs[0].id)) {
				select {
				case err := <-held:
					t.Fatalf("Hold ended before the interrupt: %v\n%s", err, out.String())
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("not in effect after 60s:\n%s", out.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
			if err := <-held; exitOf(err) != 130 {
				t.Fatalf("Hold = %v (exit %d), want 130\n%s", err, exitOf(err), out.String())
			}
			if tc.faulted != nil && tc.faulted(t, cs[0].id) {
				t.Errorf("still in effect after the interrupt")
			}
			if !strings.Contains(out.String(), tc.note) {
				t.Errorf("revert line without %q:\n%s", tc.note, out.String())
			}
			if active, _ := ledger.Active(); len(active) != 0 {
				t.Errorf("%d active in the ledger", len(active))
			}
		})
	}
}
