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
