package targets

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// backoff is an exponential backoff with full jitter: before retry n (0 for
// the first retry) the wait is uniform in [0, min(Max, Base*Multiplier^n)).
type backoff struct {
	Base       time.Duration
	Max        time.Duration
	Multiplier float64
	// NoJitter makes every wait the whole ceiling.
	NoJitter bool
}

// Ceiling is the upper bound of the wait before retry n.
func (b backoff) Ceiling(n int) time.Duration {
	c := float64(b.Base) * math.Pow(b.Multiplier, float64(n))
	if c > float64(b.Max) || math.IsInf(c, 0) || math.IsNaN(c) {
		return b.Max
	}
	return time.Duration(c)
}

// Delay draws the wait before retry n; rnd returns a uniform number in
// [0, 1).
func (b backoff) Delay(n int, rnd func() float64) time.Duration {
	if b.NoJitter {
		return b.Ceiling(n)
	}
	return time.Duration(rnd() * float64(b.Ceiling(n)))
}

// lockedRand is a seeded random source safe for concurrent use.
type lockedRand struct {
	mu  sync.Mutex
	rng *rand.Rand
}

func newLockedRand(seed int64, stream uint64) *lockedRand {
	return &lockedRand{rng: rand.New(rand.NewPCG(uint64(seed), stream))}
}

func (r *lockedRand) Float64() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rng.Float64()
}

func (r *lockedRand) NormFloat64() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rng.NormFloat64()
}

// sleep waits d or until ctx is done, whichever is first.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retryLoop calls attempt up to maxAttempts times, waiting a backoff delay
// between calls, while attempt says its failure is worth retrying. It
// returns the last attempt's error, or ctx's if it ends a wait.
func retryLoop(ctx context.Context, maxAttempts int, b backoff, rnd func() float64, attempt func(n int) (retry bool, err error)) error {
	var err error
	for n := 0; n < maxAttempts; n++ {
		if n > 0 {
			if werr := sleep(ctx, b.Delay(n-1, rnd)); werr != nil {
				return err
			}
		}
		var retry bool
		retry, err = attempt(n)
		if err == nil || !retry {
			return err
		}
	}
	return err
}
