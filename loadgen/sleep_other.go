//go:build !linux

package loadgen

import (
	"context"
	"time"
)

type sleeper struct{ *timerSleeper }

func newSleeper() *sleeper { return &sleeper{newTimerSleeper()} }

func (s *sleeper) until(ctx context.Context, t time.Time) bool { return s.timerSleeper.until(ctx, t) }
