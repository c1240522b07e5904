package loadgen

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Stage is one step of a ramp: over Duration the target moves linearly from
// the previous stage's Target (or the start value) to this Target. Target is
// an arrival rate per second in the open model and a number of virtual users
// in the closed model.
type Stage struct {
	Duration time.Duration
	Target   float64
	// Step makes the target jump to Target at the start of the stage and
	// hold, instead of moving linearly from the previous one.
	Step bool
}

// ParseRate parses an arrival rate that carries its unit: "500/s", "30/m",
// "2/ms" or "1.5k/s". The result is in requests per second.
func ParseRate(s string) (float64, error) {
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, fmt.Errorf("rate %q has no unit: want a rate like 500/s", s)
	}
	n, err := parseCount(num)
	if err != nil {
		return 0, fmt.Errorf("rate %q: %w", s, err)
	}
	var per time.Duration
	switch strings.TrimSpace(unit) {
	case "s", "sec":
		per = time.Second
	case "m", "min":
		per = time.Minute
	case "h":
		per = time.Hour
	case "ms":
		per = time.Millisecond
	default:
		d, err := time.ParseDuration(strings.TrimSpace(unit))
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("rate %q: unknown unit %q: want /s, /m, /h or /ms", s, unit)
		}
		per = d
	}
	if n < 0 {
		return 0, fmt.Errorf("rate %q: must not be negative", s)
	}
	return n / per.Seconds(), nil
}

// parseCount parses a non-negative number with an optional k or M suffix.
func parseCount(s string) (float64, error) {
	s = strings.TrimSpace(s)
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1e3, s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mult, s = 1e6, s[:len(s)-1]
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return n * mult, nil
}

// ParseStage parses "DURATION:TARGET". With rate set the target must be a
// rate ("30s:500/s", open model); otherwise a whole number of virtual users
// ("30s:50", closed model).
func ParseStage(s string, rate bool) (Stage, error) {
	ds, ts, ok := strings.Cut(s, ":")
	if !ok {
		if rate {
			return Stage{}, fmt.Errorf("stage %q: want DURATION:RATE like 30s:500/s", s)
		}
		return Stage{}, fmt.Errorf("stage %q: want DURATION:USERS like 30s:50", s)
	}
	d, err := time.ParseDuration(strings.TrimSpace(ds))
	if err != nil {
		return Stage{}, fmt.Errorf("stage %q: duration: %w", s, err)
	}
	if d <= 0 {
		return Stage{}, fmt.Errorf("stage %q: duration must be positive", s)
	}
	if rate {
		r, err := ParseRate(ts)
		if err != nil {
			return Stage{}, fmt.Errorf("stage %q: %w", s, err)
		}
		return Stage{Duration: d, Target: r}, nil
	}
	if strings.Contains(ts, "/") {
		return Stage{}, fmt.Errorf("stage %q: a rate stage needs the open model (--rate or a first stage with a rate)", s)
	}
	n, err := strconv.Atoi(strings.TrimSpace(ts))
	if err != nil || n < 0 {
		return Stage{}, fmt.Errorf("stage %q: users must be a whole number >= 0", s)
	}
	return Stage{Duration: d, Target: float64(n)}, nil
}

// ramp is a piecewise-linear function of elapsed time.
type ramp struct {
	start  float64
	stages []Stage
}

// total is the ramp's length.
func (r ramp) total() time.Duration {
	var t time.Duration
	for _, s := range r.stages {
		t += s.Duration
	}
	return t
}

// at returns the ramp's value after elapsed.
func (r ramp) at(elapsed time.Duration) float64 {
	from := r.start
	for _, s := range r.stages {
		if s.Step {
			from = s.Target
		}
		if elapsed < s.Duration {
			return from + (s.Target-from)*float64(elapsed)/float64(s.Duration)
		}
		elapsed -= s.Duration
		from = s.Target
	}
	return from
}

// Schedule yields the intended start offsets of an open-model run, in order.
type Schedule interface {
	// Next returns the intended start of the next request as an offset from
	// the start of the run, and false once the schedule has ended.
	Next() (time.Duration, bool)
	// RateAt is the target arrival rate per second at elapsed.
	RateAt(elapsed time.Duration) float64
	// Duration is the schedule's length.
	Duration() time.Duration
}

// segment is one stage of the rate ramp with the cumulative expected count
// of arrivals at its start.
type segment struct {
	t0       float64 // start, seconds
	dur      float64 // seconds
	r0, r1   float64 // rate at start and end, per second
	cumStart float64 // expected arrivals before t0
	area     float64 // expected arrivals within the segment
}

// rateSchedule places arrivals by inverting the cumulative expected count
// Λ(t) = ∫ rate: the k-th arrival is at Λ⁻¹(x_k) where x_k = k for evenly
// spaced arrivals and x_k is a sum of k unit exponentials for Poisson ones
// (the time-rescaling theorem), so one inversion serves constant rates, ramps
// and both arrival processes.
type rateSchedule struct {
	r        ramp
	segs     []segment
	totalArr float64
	x        float64
	seg      int
	rng      *rand.Rand // nil: evenly spaced arrivals
	started  bool
}

// NewRateSchedule returns the open-model schedule for a ramp that starts at
// startRate and moves through stages. With poisson set, inter-arrival times
// are exponential (seeded by seed) instead of evenly spaced.
func NewRateSchedule(startRate float64, stages []Stage, poisson bool, seed uint64) (Schedule, error) {
	if startRate < 0 {
		return nil, errors.New("rate must not be negative")
	}
	if len(stages) == 0 {
		return nil, errors.New("schedule needs a duration")
	}
	s := &rateSchedule{r: ramp{start: startRate, stages: stages}}
	t, cum, from := 0.0, 0.0, startRate
	for _, st := range stages {
		if st.Duration <= 0 {
			return nil, errors.New("stage durations must be positive")
		}
		if st.Target < 0 {
			return nil, errors.New("stage rates must not be negative")
		}
		if st.Step {
			from = st.Target
		}
		d := st.Duration.Seconds()
		seg := segment{t0: t, dur: d, r0: from, r1: st.Target, cumStart: cum, area: (from + st.Target) / 2 * d}
		s.segs = append(s.segs, seg)
		t += d
		cum += seg.area
		from = st.Target
	}
	s.totalArr = cum
	if poisson {
		s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		s.x = s.rng.ExpFloat64()
	}
	return s, nil
}

// ConstantSchedule is NewRateSchedule for one constant rate over d.
func ConstantSchedule(rate float64, d time.Duration, poisson bool, seed uint64) (Schedule, error) {
	return NewRateSchedule(rate, []Stage{{Duration: d, Target: rate}}, poisson, seed)
}

func (s *rateSchedule) Duration() time.Duration { return s.r.total() }

func (s *rateSchedule) RateAt(elapsed time.Duration) float64 { return s.r.at(elapsed) }

func (s *rateSchedule) Next() (time.Duration, bool) {
	if s.started {
		if s.rng != nil {
			s.x += s.rng.ExpFloat64()
		} else {
			s.x++
		}
	}
	s.started = true
	// The last arrival must fall strictly inside the schedule: an arrival
	// exactly at Λ = total would start at the very end.
	if s.x >= s.totalArr {
		return 0, false
	}
	for s.seg < len(s.segs) && s.x >= s.segs[s.seg].cumStart+s.segs[s.seg].area {
		s.seg++
	}
	if s.seg == len(s.segs) {
		return 0, false
	}
	g := s.segs[s.seg]
	y := s.x - g.cumStart // arrivals into this segment
	var tau float64
	a := (g.r1 - g.r0) / g.dur
	if y <= 0 {
		tau = 0
	} else if a == 0 {
		tau = y / g.r0
	} else {
		// Solve a/2 τ² + r0 τ = y for the root inside the segment, written
		// in a form that stays accurate when a is tiny or negative.
		disc := g.r0*g.r0 + 2*a*y
		if disc < 0 {
			disc = 0
		}
		tau = 2 * y / (g.r0 + math.Sqrt(disc))
	}
	if tau > g.dur {
		tau = g.dur
	}
	return time.Duration((g.t0 + tau) * float64(time.Second)), true
}

// ExpectedArrivals is the number of requests the schedule intends to send
// over its whole length (exact for evenly spaced arrivals, the mean for
// Poisson ones).
func ExpectedArrivals(s Schedule) float64 {
	if rs, ok := s.(*rateSchedule); ok {
		return rs.totalArr
	}
	return math.NaN()
}
