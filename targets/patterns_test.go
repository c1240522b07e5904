package targets

import (
	"context"
	"errors"
	"math"
	"slices"
	"sort"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestBreakerLifecycle(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := BreakerConfig{Enabled: true, Window: 10 * time.Second, MinRequests: 4, FailureRate: 0.5, CoolDown: 5 * time.Second, HalfOpenRequests: 2}
		var transitions []string
		b := newBreaker(cfg, func(_, to BreakerState) { transitions = append(transitions, to.String()) })
		call := func(o outcome) error {
			done, _, err := b.Allow()
			if err != nil {
				return err
			}
			done(o)
			return nil
		}

		// Below MinRequests, failures alone do not open it.
		for i := range 3 {
			if err := call(outcomeFailure); err != nil {
				t.Fatalf("call %d refused while closed: %v", i, err)
			}
		}
		if s := b.State(); s != BreakerClosed {
			t.Fatalf("after 3 failures (min 4): state %s, want closed", s)
		}
		// The configured number of failures opens it.
		if err := call(outcomeFailure); err != nil {
			t.Fatal(err)
		}
		if s := b.State(); s != BreakerOpen {
			t.Fatalf("after 4 failures: state %s, want open", s)
		}
		// Open, it fails fast and says when it will half-open.
		_, wait, err := b.Allow()
		if !errors.Is(err, errBreakerOpen) || wait != 5*time.Second {
			t.Fatalf("Allow while open = %v, wait %s; want errBreakerOpen, 5s", err, wait)
		}
		time.Sleep(5*time.Second - time.Millisecond)
		if s := b.State(); s != BreakerOpen {
			t.Fatalf("just before the cool-down ends: state %s, want open", s)
		}
		time.Sleep(time.Millisecond)
		if s := b.State(); s != BreakerHalfOpen {
			t.Fatalf("after the cool-down: state %s, want half-open", s)
		}
		// Half-open lets exactly HalfOpenRequests probes through.
		d1, _, err1 := b.Allow()
		d2, _, err2 := b.Allow()
		_, _, err3 := b.Allow()
		if err1 != nil || err2 != nil || !errors.Is(err3, errBreakerOpen) {
			t.Fatalf("half-open Allow = %v, %v, %v; want two probes then refusal", err1, err2, err3)
		}
		d1(outcomeSuccess)
		if s := b.State(); s != BreakerHalfOpen {
			t.Fatalf("after one of two probes: state %s, want half-open", s)
		}
		d2(outcomeSuccess)
		if s := b.State(); s != BreakerClosed {
			t.Fatalf("after both probes succeeded: state %s, want closed", s)
		}
		if want := []string{"open", "half-open", "closed"}; !slices.Equal(transitions, want) {
			t.Errorf("transitions %v, want %v", transitions, want)
		}
		// Closing forgets the old failures.
		if err := call(outcomeFailure); err != nil || b.State() != BreakerClosed {
			t.Errorf("one failure after closing: %v, state %s", err, b.State())
		}
	})
}

func TestBreakerHalfOpenFailureReopens(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := BreakerConfig{Enabled: true, Window: time.Second, MinRequests: 1, FailureRate: 1, CoolDown: time.Second, HalfOpenRequests: 1}
		b := newBreaker(cfg, nil)
		done, _, _ := b.Allow()
		done(outcomeFailure)
		time.Sleep(time.Second)
		probe, _, err := b.Allow()
		if err != nil {
			t.Fatalf("probe refused: %v", err)
		}
		probe(outcomeFailure)
		_, wait, err := b.Allow()
		if !errors.Is(err, errBreakerOpen) || wait != time.Second {
			t.Fatalf("after a failed probe: %v, wait %s; want open for a new cool-down", err, wait)
		}
		// An ignored probe (client gone) frees its slot without deciding.
		time.Sleep(time.Second)
		probe, _, _ = b.Allow()
		probe(outcomeIgnored)
		if s := b.State(); s != BreakerHalfOpen {
			t.Fatalf("after an ignored probe: %s, want half-open", s)
		}
		probe, _, err = b.Allow()
		if err != nil {
			t.Fatalf("slot not freed: %v", err)
		}
		probe(outcomeSuccess)
		if s := b.State(); s != BreakerClosed {
			t.Fatalf("state %s, want closed", s)
		}
	})
}

func TestBreakerFailureRateOverWindow(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := BreakerConfig{Enabled: true, Window: 10 * time.Second, MinRequests: 10, FailureRate: 0.5, CoolDown: time.Second, HalfOpenRequests: 1}
		b := newBreaker(cfg, nil)
		report := func(o outcome, n int) {
			for range n {
				done, _, err := b.Allow()
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				done(o)
			}
		}
		report(outcomeSuccess, 6)
		report(outcomeFailure, 4) // 40% < 50%
		if s := b.State(); s != BreakerClosed {
			t.Fatalf("40%% failures: %s, want closed", s)
		}
		// The successes slide out of the window; fresh failures then
		// make up more than half of what is left.
		time.Sleep(11 * time.Second)
		report(outcomeSuccess, 4)
		report(outcomeFailure, 5)
		if s := b.State(); s != BreakerClosed {
			t.Fatalf("9 calls (min 10): %s, want closed", s)
		}
		report(outcomeFailure, 1)
		if s := b.State(); s != BreakerOpen {
			t.Fatalf("6 of 10 failed in the window: %s, want open", s)
		}
	})
}

func TestTokenBucketLimiter(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		l := newRateLimiter(RateLimitConfig{Enabled: true, Rate: 2, Burst: 3, MaxClients: 2})
		for i := range 3 {
			if ok, _ := l.Allow("a", time.Now()); !ok {
				t.Fatalf("request %d of the burst refused", i)
			}
		}
		ok, wait := l.Allow("a", time.Now())
		if ok || wait != 500*time.Millisecond {
			t.Fatalf("after the burst: ok=%v wait=%s; want refused, 500ms", ok, wait)
		}
		if ok, _ := l.Allow("b", time.Now()); !ok {
			t.Fatal("another client shares the first one's bucket")
		}
		time.Sleep(500 * time.Millisecond)
		if ok, _ := l.Allow("a", time.Now()); !ok {
			t.Fatal("no token after the refill time")
		}
		if ok, _ := l.Allow("a", time.Now()); ok {
			t.Fatal("refill gave more than rate allows")
		}
		// A long pause refills to the burst, no more.
		time.Sleep(time.Hour)
		n := 0
		for {
			if ok, _ := l.Allow("a", time.Now()); !ok {
				break
			}
			n++
		}
		if n != 3 {
			t.Errorf("after a long pause %d requests passed, want the burst (3)", n)
		}
		if got := retryAfterSeconds(1500 * time.Millisecond); got != 2 {
			t.Errorf("retryAfterSeconds(1.5s) = %d, want 2", got)
		}
		if got := retryAfterSeconds(time.Millisecond); got != 1 {
			t.Errorf("retryAfterSeconds(1ms) = %d, want 1", got)
		}
	})
}

func TestBackoffCeilings(t *testing.T) {
	t.Parallel()
	b := backoff{Base: 10 * time.Millisecond, Max: 100 * time.Millisecond, Multiplier: 2}
	tests := []struct {
		retry int
		want  time.Duration
	}{{0, 10 * time.Millisecond}, {1, 20 * time.Millisecond}, {2, 40 * time.Millisecond}, {3, 80 * time.Millisecond}, {4, 100 * time.Millisecond}, {60, 100 * time.Millisecond}, {5000, 100 * time.Millisecond}}
	for _, tt := range tests {
		if got := b.Ceiling(tt.retry); got != tt.want {
			t.Errorf("Ceiling(%d) = %s, want %s", tt.retry, got, tt.want)
		}
	}
	if got := b.Delay(2, func() float64 { return 0 }); got != 0 {
		t.Errorf("Delay with rnd 0 = %s, want 0 (full jitter starts at zero)", got)
	}
	if got := b.Delay(2, func() float64 { return 0.5 }); got != 20*time.Millisecond {
		t.Errorf("Delay with rnd 0.5 = %s, want half the ceiling", got)
	}
	b.NoJitter = true
	for _, rnd := range []float64{0, 0.5, 0.99} {
		if got := b.Delay(2, func() float64 { return rnd }); got != 40*time.Millisecond {
			t.Errorf("Delay without jitter (rnd %v) = %s, want the ceiling 40ms", rnd, got)
		}
	}
}

// TestRetryLoopTiming checks, on a fake clock, that the waits between
// attempts are exactly the policy's full-jitter draws and stay under each
// ceiling.
func TestRetryLoopTiming(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := backoff{Base: 100 * time.Millisecond, Max: time.Second, Multiplier: 3}
		rnd := newLockedRand(42, 7)
		expected := newLockedRand(42, 7)
		start := time.Now()
		var at []time.Duration
		errFail := errors.New("fail")
		err := retryLoop(context.Background(), 5, b, rnd.Float64, func(n int) (bool, error) {
			at = append(at, time.Since(start))
			return true, errFail
		})
		if !errors.Is(err, errFail) || len(at) != 5 {
			t.Fatalf("retryLoop = %v after %d attempts; want the last error after 5", err, len(at))
		}
		for n := 1; n < len(at); n++ {
			gap := at[n] - at[n-1]
			want := b.Delay(n-1, expected.Float64)
			if gap != want {
				t.Errorf("wait before attempt %d = %s, want %s", n+1, gap, want)
			}
			if gap >= b.Ceiling(n-1) {
				t.Errorf("wait before attempt %d = %s, not below the ceiling %s", n+1, gap, b.Ceiling(n-1))
			}
		}
	})
}

func TestRetryLoopStops(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := backoff{Base: time.Second, Max: time.Second, Multiplier: 1}
		calls := 0
		errFatal := errors.New("fatal")
		err := retryLoop(context.Background(), 5, b, func() float64 { return 0.5 }, func(int) (bool, error) {
			calls++
			return false, errFatal
		})
		if calls != 1 || !errors.Is(err, errFatal) {
			t.Errorf("non-retryable error: %d calls, %v; want 1 call", calls, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		calls = 0
		start := time.Now()
		go func() {
			time.Sleep(200 * time.Millisecond)
			cancel()
		}()
		retryLoop(ctx, 5, b, func() float64 { return 0.5 }, func(int) (bool, error) {
			calls++
			return true, errFatal
		})
		if calls != 1 || time.Since(start) != 200*time.Millisecond {
			t.Errorf("cancelled during the wait: %d calls, returned after %s; want 1 call, 200ms", calls, time.Since(start))
		}
	})
}

func TestLRU(t *testing.T) {
	t.Parallel()
	now := time.Now()
	c := newLRU[string, int](2)
	evicted := 0
	c.onEvict = func() { evicted++ }
	c.Put("a", 1, now, time.Second, time.Minute)
	c.Put("b", 2, now, time.Second, time.Minute)
	c.Get("a", now) // a is now the most recently used
	c.Put("c", 3, now, time.Second, time.Minute)
	if _, _, ok := c.Get("b", now); ok {
		t.Error("b should have been evicted (least recently used)")
	}
	if evicted != 1 || c.Len() != 2 {
		t.Errorf("evicted %d, len %d; want 1, 2", evicted, c.Len())
	}
	tests := []struct {
		at           time.Duration
		fresh, found bool
	}{
		{0, true, true},
		{time.Second - 1, true, true},
		{time.Second, false, true},
		{time.Minute, false, true},
		{time.Minute + time.Second, false, false},
	}
	for _, tt := range tests {
		v, fresh, ok := c.Get("a", now.Add(tt.at))
		if fresh != tt.fresh || ok != tt.found || (ok && v != 1) {
			t.Errorf("Get at +%s = %d, fresh %v, found %v; want fresh %v, found %v", tt.at, v, fresh, ok, tt.fresh, tt.found)
		}
	}
	c.Put("n", 9, now, 0, 0)
	if _, fresh, ok := c.Get("n", now.Add(1000*time.Hour)); !ok || !fresh {
		t.Error("an entry without TTL expired")
	}
}

func TestServiceTimeLogNormal(t *testing.T) {
	t.Parallel()
	tests := []struct{ median, p99 time.Duration }{
		{2 * time.Millisecond, 20 * time.Millisecond},
		{10 * time.Millisecond, 12 * time.Millisecond},
		{5 * time.Millisecond, 5 * time.Millisecond},
	}
	for _, tt := range tests {
		st := newServiceTime(ServiceTimeConfig{Enabled: true, Distribution: DistLogNormal, Median: tt.median, P99: tt.p99}, newLockedRand(1, 1))
		const n = 40000
		samples := make([]time.Duration, n)
		for i := range samples {
			samples[i] = st.Sample()
		}
		sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
		med, p99 := samples[n/2], samples[n*99/100]
		if rel(med, tt.median) > 0.05 || rel(p99, tt.p99) > 0.1 {
			t.Errorf("median %s p99 %s: measured %s, %s", tt.median, tt.p99, med, p99)
		}
		if samples[n-1] > 10*tt.p99 {
			t.Errorf("max %s above the 10 x p99 cap", samples[n-1])
		}
	}
	fixed := newServiceTime(ServiceTimeConfig{Enabled: true, Distribution: DistFixed, Fixed: 7 * time.Millisecond}, nil)
	off := newServiceTime(ServiceTimeConfig{Enabled: false, Distribution: DistFixed, Fixed: 7 * time.Millisecond}, nil)
	if fixed.Sample() != 7*time.Millisecond || off.Sample() != 0 {
		t.Errorf("fixed %s, off %s; want 7ms, 0", fixed.Sample(), off.Sample())
	}
	// The same seed gives the same draws.
	a := newServiceTime(ServiceTimeConfig{Enabled: true, Distribution: DistLogNormal, Median: time.Millisecond, P99: 9 * time.Millisecond}, newLockedRand(5, 1))
	b := newServiceTime(ServiceTimeConfig{Enabled: true, Distribution: DistLogNormal, Median: time.Millisecond, P99: 9 * time.Millisecond}, newLockedRand(5, 1))
	for range 100 {
		if a.Sample() != b.Sample() {
			t.Fatal("same seed, different draws")
		}
	}
}

func rel(got, want time.Duration) float64 {
	return math.Abs(float64(got-want)) / float64(want)
}

func TestPool(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := newPool(PoolConfig{Enabled: true, Size: 1, MaxQueue: 1, MaxWait: 100 * time.Millisecond})
		ctx := context.Background()
		if err := p.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var waitErr error
		var waited time.Duration
		wg.Go(func() {
			start := time.Now()
			waitErr = p.Acquire(ctx)
			waited = time.Since(start)
		})
		synctest.Wait()
		if p.Waiting() != 1 {
			t.Fatalf("waiting = %d, want 1", p.Waiting())
		}
		if err := p.Acquire(ctx); !errors.Is(err, errPoolQueueFull) {
			t.Fatalf("third request: %v, want queue full", err)
		}
		wg.Wait()
		if !errors.Is(waitErr, errPoolWait) || waited != 100*time.Millisecond {
			t.Fatalf("queued request: %v after %s; want wait timeout after 100ms", waitErr, waited)
		}
		// A release hands the slot to a waiter.
		wg.Go(func() { waitErr = p.Acquire(ctx) })
		synctest.Wait()
		time.Sleep(50 * time.Millisecond)
		p.Release()
		wg.Wait()
		if waitErr != nil || p.InUse() != 1 {
			t.Fatalf("after release: %v, in use %d", waitErr, p.InUse())
		}
		p.Release()
	})
}

func TestBulkhead(t *testing.T) {
	t.Parallel()
	b := newBulkhead(2)
	if !b.TryAcquire() || !b.TryAcquire() {
		t.Fatal("slots refused below the limit")
	}
	if b.TryAcquire() {
		t.Fatal("third call let through a bulkhead of 2")
	}
	b.Release()
	if !b.TryAcquire() || b.InUse() != 2 {
		t.Fatal("released slot not reusable")
	}
}
