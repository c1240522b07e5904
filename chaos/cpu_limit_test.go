package chaos

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/chaos/docker"
	"github.com/faultline-dev/faultline/internal/exitcode"
)

// TestCPULimitRestoresTheLimits lowers the CPU limit of real containers,
// one without a limit and one started with --cpus 1.5 (NanoCPUs), and
// checks what the engine reports before, during and after: the previous
// values exactly, except that a quota that was not set comes back as -1
// (unlimited, the same to the kernel; the engine cannot unset it).
func TestCPULimitRestoresTheLimits(t *testing.T) {
	t.Parallel()
	eng, image := dockerEngine(t)
	_, cs := runContainers(t, eng, image, 2)
	ctx := context.Background()
	if err := eng.SetLimits(ctx, cs[1].id, docker.Limits{NanoCPUs: 1_500_000_000}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		c                     testContainer
		before, during, after docker.Limits
	}{
		{cs[0], docker.Limits{}, docker.Limits{CPUQuota: 25_000, CPUPeriod: 100_000}, docker.Limits{CPUQuota: -1, CPUPeriod: 100_000}},
		{cs[1], docker.Limits{NanoCPUs: 1_500_000_000}, docker.Limits{NanoCPUs: 250_000_000}, docker.Limits{NanoCPUs: 1_500_000_000}},
	}
	for _, tc := range cases {
		limits := func() docker.Limits {
			l, err := eng.Limits(ctx, tc.c.id)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		if got := limits(); got != tc.before {
			t.Fatalf("%s before: %+v, want %+v", tc.c.name, got, tc.before)
		}
		f, err := New(Spec{Kind: "cpu_limit", Names: []string{tc.c.name}, CPUs: 0.25})
		if err != nil {
			t.Fatal(err)
		}
		s := NewSession(testLedger(t), closingEnv(t))
		e, err := s.Inject(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if got := limits(); got != tc.during {
			t.Errorf("%s during: %+v, want %+v", tc.c.name, got, tc.during)
		}
		if err := s.Revert(ctx, e); err != nil {
			t.Fatal(err)
		}
		if got := limits(); got != tc.after {
			t.Errorf("%s after: %+v, want %+v", tc.c.name, got, tc.after)
		}
	}
	// Raising a limit is not a fault.
	f, _ := New(Spec{Kind: "cpu_limit", Names: []string{cs[1].name}, CPUs: 2})
	var fe *FieldError
	if _, err := NewSession(testLedger(t), closingEnv(t)).Plan(ctx, f); err == nil || !strings.Contains(err.Error(), "would not lower it") || exitcode.Of(err) != exitcode.Usage || !errors.As(err, &fe) || fe.Field != "cpus" {
		t.Fatalf("raising the limit: %v (exit %d), want exit 2 on field cpus", err, exitcode.Of(err))
	}
}

// TestCPULimitCleanupAfterACrash stands for `faultline chaos cleanup`
// after a SIGKILL: a new process reverts from the ledger alone.
func TestCPULimitCleanupAfterACrash(t *testing.T) {
	t.Parallel()
	eng, image := dockerEngine(t)
	_, cs := runContainers(t, eng, image, 1)
	ctx := context.Background()
	before := docker.Limits{CPUQuota: 150_000, CPUPeriod: 50_000}
	if err := eng.SetLimits(ctx, cs[0].id, before); err != nil {
		t.Fatal(err)
	}
	ledger := testLedger(t)
	f, err := New(Spec{Kind: "cpu_limit", Names: []string{cs[0].name}, CPUs: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSession(ledger, closingEnv(t)).Inject(ctx, f); err != nil {
		t.Fatal(err)
	}
	if l, _ := eng.Limits(ctx, cs[0].id); l.CPUQuota != 25_000 || l.CPUPeriod != 50_000 {
		t.Fatalf("during: %+v, want quota 25000 of period 50000", l)
	}
	var out strings.Builder
	if n, err := RevertLedger(ctx, ledger, closingEnv(t), &out); err != nil || n != 1 {
		t.Fatalf("RevertLedger = %d, %v\n%s", n, err, out.String())
	}
	if l, _ := eng.Limits(ctx, cs[0].id); l != before {
		t.Fatalf("after cleanup: %+v, want %+v\n%s", l, before, out.String())
	}
}

func TestCPULimitValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		spec Spec
		want string
	}{
		{Spec{Kind: "cpu_limit", Names: []string{"x"}}, "cpus 0: want a CPU limit of at least 0.01"},
		{Spec{Kind: "cpu_limit", Names: []string{"x"}, CPUs: -1}, "cpus -1"},
		{Spec{Kind: "cpu_limit", CPUs: 1}, "select containers"},
		{Spec{Kind: "cpu_limit", Names: []string{"x"}, CPUs: 1, Signal: "KILL"}, "field signal not found"},
	} {
		errs := tc.spec.Validate()
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.spec, errs, tc.want)
		}
	}
}

// closingEnv is an environment whose connection to the engine is closed
// when the test ends.
func closingEnv(t *testing.T) *Env {
	env := &Env{}
	t.Cleanup(func() { env.Close() })
	return env
}
