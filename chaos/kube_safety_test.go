package chaos

import (
	"context"
	"testing"
	"time"
)

// panicAfterInject is a real pod fault whose injection panics once it has
// acted: a bug in faultline while the fault is in.
type panicAfterInject struct{ Fault }

func (f panicAfterInject) Resolve(ctx context.Context, env *Env) (Injection, error) {
	inj, err := f.Fault.Resolve(ctx, env)
	if err != nil {
		return nil, err
	}
	return panickingInjection{inj}, nil
}

type panickingInjection struct{ Injection }

func (p panickingInjection) Inject(ctx context.Context, env *Env) error {
	if err := p.Injection.Inject(ctx, env); err != nil {
		return err
	}
	panic("bug after the injection")
}

// TestPodFaultsRevertOnPanicAndCancel holds each pod kind and ends the hold
// by a panic (raised again after the revert) and by a cancelled context
// (the first Ctrl-C or SIGTERM, or an abort, which cancels the same way):
// the namespace is as before and the ledger has nothing active.
func TestPodFaultsRevertOnPanicAndCancel(t *testing.T) {
	t.Parallel()
	k := newKubeTest(t)
	k.deployment(t, "web", 2)
	before := k.state(t)
	kinds := []struct {
		name  string
		fault func() Fault
	}{
		{"pod_kill", func() Fault { return newPodKill(k.ns, map[string]string{"app": "web"}, Selection{}) }},
		{"scale", func() Fault { return newScale(k.ns, "deployment/web", 0) }},
		{"pod_failure", func() Fault {
			return &podFailureFault{Target: podTarget{Namespace: k.ns, Labels: map[string]string{"app": "web"}}, PauseImage: "faultline.local/absent:0"}
		}},
	}
	for _, kc := range kinds {
		for _, end := range []string{"panic", "cancel"} {
			t.Run(kc.name+"/"+end, func(t *testing.T) {
				ledger := testLedger(t)
				s := NewSession(ledger, k.env)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				f := kc.fault()
				if end == "panic" {
					f = panicAfterInject{f}
				} else {
					time.AfterFunc(500*time.Millisecond, cancel)
				}
				func() {
					defer func() {
						if r := recover(); (r != nil) != (end == "panic") {
							t.Fatalf("recovered %v", r)
						}
					}()
					err := s.Hold(ctx, f, time.Minute)
					if code := exitOf(err); code != 130 {
						t.Fatalf("Hold ended with %v (exit %d), want exit 130", err, code)
					}
				}()
				k.waitState(t, before, 10*time.Second)
				if active, _ := ledger.Active(); len(active) != 0 {
					t.Fatalf("%d active in the ledger", len(active))
				}
			})
		}
	}
}
