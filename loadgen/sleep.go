package loadgen

import (
	"context"
	"time"
)

// timerSleeper waits with a runtime timer: portable, but an idle runtime
// rounds waits under a millisecond up to one.
type timerSleeper struct{ t *time.Timer }

func newTimerSleeper() *timerSleeper {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &timerSleeper{t: t}
}

func (s *timerSleeper) until(ctx context.Context, t time.Time) bool {
	wait := time.Until(t)
	if wait <= 0 {
		return ctx.Err() == nil
	}
	s.t.Reset(wait)
	select {
	case <-ctx.Done():
		s.t.Stop()
		return false
	case <-s.t.C:
		return true
	}
}

func (s *timerSleeper) close() { s.t.Stop() }
