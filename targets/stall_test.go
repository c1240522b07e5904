package targets

import (
	"testing"
	"time"
)

// TestServiceTimeStall: requests arriving in the window [after, after+for)
// from the first request wait until it ends; none other waits.
func TestServiceTimeStall(t *testing.T) {
	t.Parallel()
	st := newServiceTime(ServiceTimeConfig{Enabled: true, Distribution: DistFixed, Fixed: time.Millisecond,
		StallAfter: 500 * time.Millisecond, StallFor: 500 * time.Millisecond}, nil)
	t0 := time.Unix(1000, 0)
	for _, c := range []struct {
		at, want time.Duration
	}{
		{0, 0}, {499 * time.Millisecond, 0}, {500 * time.Millisecond, 500 * time.Millisecond},
		{800 * time.Millisecond, 200 * time.Millisecond}, {time.Second, 0}, {3 * time.Second, 0},
	} {
		if got := st.Stall(t0.Add(c.at)); got != c.want {
			t.Errorf("at %s: held %s, want %s", c.at, got, c.want)
		}
	}
	if d := newServiceTime(ServiceTimeConfig{Enabled: true, Distribution: DistFixed}, nil).Stall(t0); d != 0 {
		t.Errorf("no stall configured: held %s", d)
	}
}
