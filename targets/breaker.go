package targets

import (
	"errors"
	"sync"
	"time"
)

// BreakerState is the state of a circuit breaker.
type BreakerState int

// The breaker's states; the numbers are the values of the
// faultline_gateway_breaker_state metric.
const (
	BreakerClosed   BreakerState = 0
	BreakerOpen     BreakerState = 1
	BreakerHalfOpen BreakerState = 2
)

func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	}
	return "unknown"
}

// errBreakerOpen is returned by breaker.Allow while calls are refused.
var errBreakerOpen = errors.New("circuit breaker open")

// outcome is what a call through the breaker came to.
type outcome int

const (
	outcomeSuccess outcome = iota
	outcomeFailure
	// outcomeIgnored is a call that says nothing about the upstream, such
	// as one the client cancelled; it frees its half-open slot.
	outcomeIgnored
)

// breakerBuckets is the number of slices of the sliding window.
const breakerBuckets = 10

// breaker is a circuit breaker: closed, it counts outcomes in a sliding time
// window and opens when at least MinRequests calls saw a failure rate of
// FailureRate; open, it refuses every call for CoolDown; then half-open, it
// lets HalfOpenRequests probes through and closes when all succeed or opens
// again on the first failure. It reads time.Now, so tests drive it with
// testing/synctest.
type breaker struct {
	cfg      BreakerConfig
	onChange func(from, to BreakerState) // called with mu held

	mu                sync.Mutex
	state             BreakerState
	openedAt          time.Time
	buckets           [breakerBuckets]breakerBucket
	halfOpenStarted   int // probes let through in this half-open period
	halfOpenSucceeded int
}

type breakerBucket struct {
	epoch    int64 // which slice of time this bucket counts
	ok, fail int
}

func newBreaker(cfg BreakerConfig, onChange func(from, to BreakerState)) *breaker {
	return &breaker{cfg: cfg, onChange: onChange}
}

// State returns the current state, moving from open to half-open if the
// cool-down has passed.
func (b *breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance(time.Now())
	return b.state
}

// Allow asks to make one call. When it is refused, the error is
// errBreakerOpen and retryAfter says when the breaker will half-open. When
// it is allowed, the caller must report the call's outcome with done.
func (b *breaker) Allow() (done func(outcome), retryAfter time.Duration, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	b.advance(now)
	switch b.state {
	case BreakerOpen:
		return nil, b.openedAt.Add(b.cfg.CoolDown).Sub(now), errBreakerOpen
	case BreakerHalfOpen:
		if b.halfOpenStarted >= b.cfg.HalfOpenRequests {
			// Every probe is in flight; refuse until they report.
			return nil, 0, errBreakerOpen
		}
		b.halfOpenStarted++
		gen := b.openedAt
		return func(o outcome) { b.reportProbe(gen, o) }, 0, nil
	}
	return b.reportClosed, 0, nil
}

// advance moves open to half-open once the cool-down has passed.
func (b *breaker) advance(now time.Time) {
	if b.state == BreakerOpen && !now.Before(b.openedAt.Add(b.cfg.CoolDown)) {
		b.halfOpenStarted, b.halfOpenSucceeded = 0, 0
		b.setState(BreakerHalfOpen)
	}
}

func (b *breaker) setState(to BreakerState) {
	from := b.state
	if from == to {
		return
	}
	b.state = to
	if b.onChange != nil {
		b.onChange(from, to)
	}
}

func (b *breaker) trip(now time.Time) {
	b.openedAt = now
	b.setState(BreakerOpen)
}

func (b *breaker) reportClosed(o outcome) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if b.state != BreakerClosed || o == outcomeIgnored {
		// The call started before the breaker opened; its outcome no
		// longer matters.
		return
	}
	width := b.bucketWidth()
	epoch := now.UnixNano() / int64(width)
	bk := &b.buckets[epoch%breakerBuckets]
	if bk.epoch != epoch {
		*bk = breakerBucket{epoch: epoch}
	}
	if o == outcomeSuccess {
		bk.ok++
		return
	}
	bk.fail++
	var ok, fail int
	for _, x := range b.buckets {
		if x.epoch > epoch-breakerBuckets {
			ok += x.ok
			fail += x.fail
		}
	}
	total := ok + fail
	if total >= b.cfg.MinRequests && float64(fail) >= b.cfg.FailureRate*float64(total) {
		b.trip(now)
	}
}

func (b *breaker) reportProbe(gen time.Time, o outcome) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state != BreakerHalfOpen || !b.openedAt.Equal(gen) {
		return
	}
	switch o {
	case outcomeIgnored:
		b.halfOpenStarted--
		return
	case outcomeFailure:
		b.trip(time.Now())
		return
	}
	b.halfOpenSucceeded++
	if b.halfOpenSucceeded >= b.cfg.HalfOpenRequests {
		b.buckets = [breakerBuckets]breakerBucket{}
		b.setState(BreakerClosed)
	}
}

func (b *breaker) bucketWidth() time.Duration {
	w := b.cfg.Window / breakerBuckets
	if w <= 0 {
		w = time.Millisecond
	}
	return w
}
