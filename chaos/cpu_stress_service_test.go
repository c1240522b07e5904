package chaos

import (
	"context"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/targets"
)

// TestCPUStressInProcess stresses the in-process store of a bundled shop
// through a Session: the service is stressed while the fault is in effect
// and not after, the revert note counts what it held, and cleanup in the
// process that runs the service reverts it.
func TestCPUStressInProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	shop, err := targets.Start(ctx, targets.Defaults(), targets.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer shop.Close()
	env := &Env{Services: map[string]Crashable{}}
	for _, name := range shop.Names() {
		env.Services[name] = shop.Service(name)
	}
	f, err := New(Spec{Kind: "cpu_stress", Service: "store", Load: 80})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Describe(); got != "cpu_stress 80% on in-process service store" {
		t.Errorf("describe %q", got)
	}
	ledger := testLedger(t)
	s := NewSession(ledger, env)
	e, err := s.Inject(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Revert(ctx, e); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.RevertNote, "service store: held") {
		t.Errorf("note %q", e.RevertNote)
	}
	if note := shop.Service("store").UnstressCPU(); !strings.Contains(note, "was not stressed") {
		t.Errorf("after revert: %s", note)
	}
	// cleanup in the process that runs the service reverts it too.
	if _, err := s.Inject(ctx, f); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if n, err := RevertLedger(ctx, ledger, env, &out); err != nil || n != 1 || !strings.Contains(out.String(), "service store: held") {
		t.Errorf("cleanup: %d, %v\n%s", n, err, out.String())
	}
	f, _ = New(Spec{Kind: "cpu_stress", Service: "billing", Load: 80})
	if _, err := s.Plan(ctx, f); err == nil || !strings.Contains(err.Error(), `no in-process service "billing" to stress (running here: catalog, gateway, orders, store)`) {
		t.Errorf("unknown service: %v", err)
	}
}

func TestCPUStressInProcessValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		spec Spec
		want string
	}{
		{Spec{Kind: "cpu_stress", Service: "store", Load: 100}, "load 100: want 1 to 99"},
		{Spec{Kind: "cpu_stress", Service: "store", Load: 50, Names: []string{"x"}}, "not both"},
		{Spec{Kind: "cpu_stress", Service: "store", Load: 50, Workers: 2}, "workers applies to containers"},
	} {
		errs := tc.spec.Validate()
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.spec, errs, tc.want)
		}
	}
}
