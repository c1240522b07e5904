package chaos

import (
	"context"
	"errors"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/faultline-dev/faultline/chaos/docker"
	"github.com/faultline-dev/faultline/internal/exitcode"
)

// TestMemoryLimitRestoresTheLimits squeezes real containers, one without a
// limit and one started with --memory 256m --memory-swap 512m, and checks
// what the engine reports before, during and after, and after a cleanup
// from the ledger alone (as after a SIGKILL).
func TestMemoryLimitRestoresTheLimits(t *testing.T) {
	t.Parallel()
	eng, image := dockerEngine(t)
	_, cs := runContainers(t, eng, image, 2)
	ctx := context.Background()
	limited := docker.Limits{Memory: 256 << 20, MemorySwap: 512 << 20}
	if err := eng.SetLimits(ctx, cs[1].id, limited); err != nil {
		t.Fatal(err)
	}
	squeezed := docker.Limits{Memory: 64 << 20, MemorySwap: 64 << 20}
	cases := []struct {
		c             testContainer
		before, after docker.Limits
		cleanup       bool
	}{
		// The engine cannot unset a limit: "unlimited" is the kernel's own
		// no-limit value, for memory and memory+swap alike.
		{cs[0], docker.Limits{}, docker.Limits{Memory: unlimitedMemory, MemorySwap: unlimitedMemory}, false},
		{cs[1], limited, limited, true},
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
		f, err := New(Spec{Kind: "memory_limit", Names: []string{tc.c.name}, Memory: 64 << 20})
		if err != nil {
			t.Fatal(err)
		}
		ledger := testLedger(t)
		s := NewSession(ledger, closingEnv(t))
		e, err := s.Inject(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if got := limits(); got != squeezed {
			t.Errorf("%s during: %+v, want %+v", tc.c.name, got, squeezed)
		}
		if tc.cleanup {
			var out strings.Builder
			if n, err := RevertLedger(ctx, ledger, closingEnv(t), &out); err != nil || n != 1 {
				t.Fatalf("RevertLedger = %d, %v\n%s", n, err, out.String())
			}
		} else if err := s.Revert(ctx, e); err != nil {
			t.Fatal(err)
		}
		if got := limits(); got != tc.after {
			t.Errorf("%s after: %+v, want %+v", tc.c.name, got, tc.after)
		}
	}
	f, _ := New(Spec{Kind: "memory_limit", Names: []string{cs[1].name}, Memory: 1 << 30})
	var fe *FieldError
	if _, err := NewSession(testLedger(t), closingEnv(t)).Plan(ctx, f); err == nil || !strings.Contains(err.Error(), "would not lower it") || exitcode.Of(err) != exitcode.Usage || !errors.As(err, &fe) || fe.Field != "memory" {
		t.Fatalf("raising the limit: %v (exit %d), want exit 2 on field memory", err, exitcode.Of(err))
	}
}

func TestMemoryLimitValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ yaml, want string }{
		{"names: [x]\nmemory: 10\n", `"10" has no unit: want a size such as 256MiB`},
		{"names: [x]\nmemory: 1MiB\n", "at least 6MiB"},
		{"names: [x]\n", "memory 0B: want a limit of at least 6MiB"},
		{"names: [x]\nmemory: lots\n", `unknown unit "lots"`},
	} {
		f, err := NewFault("memory_limit")
		if err != nil {
			t.Fatal(err)
		}
		if err = yaml.Unmarshal([]byte(tc.yaml), f); err == nil {
			err = Check(f)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.yaml, err, tc.want)
		}
	}
	f, _ := NewFault("memory_limit")
	if err := yaml.Unmarshal([]byte("names: [x]\nmemory: 256MiB\n"), f); err != nil || Check(f) != nil {
		t.Fatalf("256MiB: %v, %v", err, Check(f))
	}
}
