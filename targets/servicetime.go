package targets

import (
	"math"
	"sync"
	"time"
)

// z99 is the standard normal quantile at 0.99: a log-normal's p99 is
// exp(mu + z99*sigma).
const z99 = 2.3263478740408408

// serviceTime draws store's per-request service time.
type serviceTime struct {
	fixed     time.Duration // used when !lognormal
	lognormal bool
	mu, sigma float64 // of ln(seconds)
	max       time.Duration
	rnd       *lockedRand
	// The stall window, from the first request (once).
	stallAfter, stallFor time.Duration
	firstOnce            sync.Once
	first                time.Time
}

// newServiceTime builds the sampler: log-normal with mu = ln(median) and
// sigma = (ln(p99) - ln(median)) / z99, capped at 10 x p99 so that one draw
// from the far tail cannot stall a test; or a fixed time; or none.
func newServiceTime(cfg ServiceTimeConfig, rnd *lockedRand) *serviceTime {
	if !cfg.Enabled {
		return &serviceTime{}
	}
	if cfg.Distribution == DistFixed {
		return &serviceTime{fixed: cfg.Fixed, stallAfter: cfg.StallAfter, stallFor: cfg.StallFor}
	}
	return &serviceTime{
		stallAfter: cfg.StallAfter, stallFor: cfg.StallFor,
		lognormal: true,
		mu:        math.Log(cfg.Median.Seconds()),
		sigma:     (math.Log(cfg.P99.Seconds()) - math.Log(cfg.Median.Seconds())) / z99,
		max:       10 * cfg.P99,
		rnd:       rnd,
	}
}

// Sample draws one service time.
func (s *serviceTime) Sample() time.Duration {
	if !s.lognormal {
		return s.fixed
	}
	d := time.Duration(math.Exp(s.mu+s.sigma*s.rnd.NormFloat64()) * float64(time.Second))
	if d > s.max || d < 0 {
		return s.max
	}
	return d
}

// Stall is how long a request arriving at now is held before its service
// time: until the end of the stall window when now falls in it.
func (s *serviceTime) Stall(now time.Time) time.Duration {
	if s.stallFor <= 0 {
		return 0
	}
	s.firstOnce.Do(func() { s.first = now })
	if at := now.Sub(s.first); at >= s.stallAfter && at < s.stallAfter+s.stallFor {
		return s.stallAfter + s.stallFor - at
	}
	return 0
}
