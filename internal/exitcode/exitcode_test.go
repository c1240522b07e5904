package exitcode

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestOf(t *testing.T) {
	t.Parallel()
	base := errors.New("boom")
	cases := []struct {
		name string
		err  error
		want Code
	}{
		{"nil", nil, OK},
		{"plain", base, Runtime},
		{"coded", Wrap(base, Usage), Usage},
		{"wrapped coded", fmt.Errorf("load: %w", Wrap(base, Failed)), Failed},
		{"outermost wins", Wrap(Wrap(base, Usage), Aborted), Aborted},
		{"cancelled", fmt.Errorf("run: %w", context.Canceled), Interrupted},
		{"errorf", Errorf(RevertFailed, "revert %s", "x"), RevertFailed},
	}
	for _, c := range cases {
		if got := Of(c.err); got != c.want {
			t.Errorf("%s: Of = %d, want %d", c.name, got, c.want)
		}
	}
	if Wrap(nil, Usage) != nil {
		t.Error("Wrap(nil) should be nil")
	}
}

func TestHasAndWrapIfNone(t *testing.T) {
	t.Parallel()
	base := errors.New("boom")
	cancelled := fmt.Errorf("inject: %w", context.Canceled)
	cases := []struct {
		name    string
		err     error
		has     bool
		wrapped Code // Of(WrapIfNone(err, Runtime))
	}{
		{"nil", nil, false, OK},
		{"plain", base, false, Runtime},
		{"coded keeps its code", Wrap(base, Usage), true, Usage},
		{"coded deep in the chain", fmt.Errorf("setup: %w", Wrap(base, RevertFailed)), true, RevertFailed},
		{"cancellation stays interrupted", cancelled, false, Interrupted},
	}
	for _, c := range cases {
		if got := Has(c.err); got != c.has {
			t.Errorf("%s: Has = %v, want %v", c.name, got, c.has)
		}
		if got := Of(WrapIfNone(c.err, Runtime)); got != c.wrapped {
			t.Errorf("%s: Of(WrapIfNone(err, Runtime)) = %d, want %d", c.name, got, c.wrapped)
		}
	}
	if got := Of(WrapIfNone(base, Aborted)); got != Aborted {
		t.Errorf("WrapIfNone on a plain error: %d, want %d", got, Aborted)
	}
}
