package targets

import (
	"math"
	"sync"
	"time"
)

// tokenBucket holds up to burst tokens and gains rate tokens per second;
// each request takes one.
type tokenBucket struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// take takes one token, or reports how long until one is available.
func (b *tokenBucket) take(now time.Time, rate float64, burst int) (ok bool, retryAfter time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last.IsZero() {
		b.tokens = float64(burst)
	} else if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = math.Min(float64(burst), b.tokens+elapsed*rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / rate * float64(time.Second))
	return false, wait
}

// rateLimiter is a token bucket per client key, keeping at most
// MaxClients buckets (least recently seen dropped first).
type rateLimiter struct {
	rate    float64
	burst   int
	buckets *lru[string, *tokenBucket]
	mu      sync.Mutex // makes get-or-create atomic
}

func newRateLimiter(cfg RateLimitConfig) *rateLimiter {
	return &rateLimiter{rate: cfg.Rate.PerSecond(), burst: cfg.Burst, buckets: newLRU[string, *tokenBucket](cfg.MaxClients)}
}

// Allow takes a token from key's bucket; when there is none it returns the
// wait until there will be one.
func (l *rateLimiter) Allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	b, _, ok := l.buckets.Get(key, now)
	if !ok {
		b = &tokenBucket{}
		l.buckets.Put(key, b, now, 0, 0)
	}
	l.mu.Unlock()
	return b.take(now, l.rate, l.burst)
}

// retryAfterSeconds rounds a wait up to the whole seconds of a Retry-After
// header, at least 1.
func retryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}
