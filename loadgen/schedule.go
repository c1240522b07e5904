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

// MaxRate is the highest arrival rate, per second, that one generator
// schedules: the peak of its share of the schedule. Its dispatcher hands
// out requests at several times this rate on one core, so a run that falls
// behind still counts what it could not send and ends on time. A higher rate
// is split over several generators, each sending one Segment.
const MaxRate = 1e6

// checkPeak refuses a schedule whose peak rate one generator cannot keep.
func checkPeak(s Schedule) error {
	p, ok := s.(interface{ peak() float64 })
	if !ok || p.peak() <= MaxRate {
		return nil
	}
	return fmt.Errorf("the schedule peaks at %s, above %s, the most one generator schedules: split it over several generators (segments)", FormatRate(p.peak()), FormatRate(MaxRate))
}

// FormatRate writes a rate per second as users write it: "1M/s", "2500/s".
func FormatRate(r float64) string {
	switch {
	case r >= 1e6 && math.Mod(r, 1e6) == 0:
		return strconv.FormatFloat(r/1e6, 'f', -1, 64) + "M/s"
	case r >= 1e3 && math.Mod(r, 1e3) == 0:
		return strconv.FormatFloat(r/1e3, 'f', -1, 64) + "k/s"
	}
	return strconv.FormatFloat(r, 'f', -1, 64) + "/s"
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

// ParseStages parses stages whose targets carry their unit: rates ("500/s")
// make an open-model ramp, plain whole numbers (users) a closed-model one.
// Every stage is read by its own unit and they must all agree.
func ParseStages(specs []string) (Model, []Stage, error) {
	var model Model
	var first string
	stages := make([]Stage, 0, len(specs))
	for _, s := range specs {
		_, ts, _ := strings.Cut(s, ":")
		m := Closed
		if strings.Contains(ts, "/") {
			m = Open
		}
		if model == "" {
			model, first = m, s
		} else if m != model {
			return "", nil, fmt.Errorf("stage %q targets %s but stage %q targets %s: a load is open (rates) or closed (users)", s, targetKind(m), first, targetKind(model))
		}
		st, err := ParseStage(s, m == Open)
		if err != nil {
			return "", nil, err
		}
		stages = append(stages, st)
	}
	return model, stages, nil
}

func targetKind(m Model) string {
	if m == Open {
		return "a rate"
	}
	return "users"
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
		return Stage{}, fmt.Errorf("stage %q: a rate belongs to the open model, this load is closed (users)", s)
	}
	n, err := strconv.Atoi(strings.TrimSpace(ts))
	if err != nil || n < 0 {
		return Stage{}, fmt.Errorf("stage %q: users must be a whole number >= 0", s)
	}
	return Stage{Duration: d, Target: float64(n)}, nil
}

// Schedule is the shape of a load over time, as a value: it can be asked
// its length and its target at any time, and walked (open model) or run
// (closed model) any number of times, each time from the start. It plays the
// part of vegeta's Pacer; the engine holds no shape arithmetic of its own.
// Every schedule is an OpenSchedule or a ClosedSchedule.
type Schedule interface {
	// Duration is the schedule's length.
	Duration() time.Duration
	// TargetAt is what the schedule asks for after elapsed: arrivals per
	// second in the open model, virtual users in the closed one.
	TargetAt(elapsed time.Duration) float64
	// ExpectedArrivals is the mean number of requests the schedule intends
	// over its whole length (exact for evenly spaced arrivals). A closed
	// schedule plans users, not arrivals: 0.
	ExpectedArrivals() float64
	// Planned is the exact number of requests an open schedule sends (for
	// Poisson arrivals, the number its seed draws), or of virtual users a
	// closed schedule runs at most. Run counts the requests a late
	// dispatcher could not send from it.
	Planned() int64
}

// OpenSchedule places each request at an intended send time.
type OpenSchedule interface {
	Schedule
	// Arrivals starts a walk of the intended send times from the start.
	Arrivals() Arrivals
}

// Arrivals walks the intended send times of an open schedule, in order.
type Arrivals interface {
	// Next returns the intended start of the next request as an offset from
	// the start of the run, and false once the schedule has ended.
	Next() (time.Duration, bool)
}

// ClosedSchedule runs virtual users, each sending its next request when its
// previous one completed.
type ClosedSchedule interface {
	Schedule
	// Users is how many virtual users the run needs: the most ever active.
	Users() int
	// Active reports whether user (0 <= user < Users()) sends at elapsed.
	Active(user int, elapsed time.Duration) bool
}

// MeanRate is the mean arrival rate a schedule asks for over its length,
// per second (0 for the closed model).
func MeanRate(s Schedule) float64 {
	d := s.Duration()
	if d <= 0 {
		return 0
	}
	return s.ExpectedArrivals() / d.Seconds()
}

// ModelOf is the load model a schedule belongs to.
func ModelOf(s Schedule) Model {
	if _, ok := s.(ClosedSchedule); ok {
		return Closed
	}
	return Open
}

var (
	_ OpenSchedule   = Constant{}
	_ OpenSchedule   = Ramp{}
	_ OpenSchedule   = Poisson{}
	_ ClosedSchedule = Users{}
)

// Shape is a load's shape as users write it, in flags or in an experiment:
// a model, a start value, then either a Duration at that value or Stages,
// and the arrival process. Schedule is the one place a shape becomes a
// Schedule.
type Shape struct {
	Model       Model
	Rate        float64 // open model: the (start) arrival rate per second
	Concurrency int     // closed model: the (start) number of virtual users
	Stages      []Stage
	Duration    time.Duration // without stages: how long the start value holds
	Poisson     bool          // open model: exponential gaps instead of even ones
	Seed        uint64        // seeds Poisson arrivals
}

// Schedule validates the shape, reporting every problem at once, and
// returns its schedule.
func (s Shape) Schedule() (Schedule, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.Duration < 0 {
		bad("duration must not be negative")
	}
	if len(s.Stages) == 0 && s.Duration <= 0 {
		bad("duration must be positive (or give stages)")
	}
	if len(s.Stages) > 0 && s.Duration > 0 {
		bad("give a duration or stages, not both: the stages set the length")
	}
	for _, st := range s.Stages {
		if st.Duration <= 0 {
			bad("stage durations must be positive")
		}
		if st.Target < 0 {
			bad("stage targets must not be negative")
		}
	}
	switch s.Model {
	case Open:
		if s.Rate < 0 {
			bad("rate must not be negative")
		}
		if len(s.Stages) == 0 && s.Rate <= 0 {
			bad("the open model needs a rate above zero (or stages)")
		}
	case Closed:
		if s.Concurrency < 0 {
			bad("concurrency must not be negative")
		}
		if len(s.Stages) == 0 && s.Concurrency <= 0 {
			bad("the closed model needs a concurrency above zero (or stages)")
		}
		if s.Poisson {
			bad("Poisson arrivals belong to the open model")
		}
	default:
		bad("unknown model %q (want open or closed)", s.Model)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	stages := s.Stages
	if s.Model == Closed {
		if len(stages) == 0 {
			stages = []Stage{{Duration: s.Duration, Target: float64(s.Concurrency)}}
		}
		u := Users{Start: s.Concurrency, Stages: stages}
		return u, u.Validate()
	}
	if len(stages) == 0 {
		if s.Poisson {
			return ConstantSchedule(s.Rate, s.Duration, true, s.Seed)
		}
		c := Constant{Rate: s.Rate, For: s.Duration}
		return c, c.Validate()
	}
	return NewRateSchedule(s.Rate, stages, s.Poisson, s.Seed)
}

// NewRateSchedule returns the open-model schedule for a ramp that starts at
// startRate and moves through stages. With poisson set, inter-arrival times
// are exponential (seeded by seed) instead of evenly spaced.
func NewRateSchedule(startRate float64, stages []Stage, poisson bool, seed uint64) (OpenSchedule, error) {
	r := Ramp{Start: startRate, Stages: stages}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if poisson {
		return Poisson{Rate: r, Seed: seed}, nil
	}
	return r, nil
}

// ConstantSchedule is NewRateSchedule for one constant rate over d.
func ConstantSchedule(rate float64, d time.Duration, poisson bool, seed uint64) (OpenSchedule, error) {
	return NewRateSchedule(rate, []Stage{{Duration: d, Target: rate}}, poisson, seed)
}

// Constant is Rate evenly spaced arrivals per second for For.
type Constant struct {
	Rate float64
	For  time.Duration
}

func (c Constant) ramp() Ramp {
	return Ramp{Start: c.Rate, Stages: []Stage{{Duration: c.For, Target: c.Rate}}}
}

// Validate says why the schedule cannot run.
func (c Constant) Validate() error                        { return c.ramp().Validate() }
func (c Constant) Duration() time.Duration                { return c.For }
func (c Constant) TargetAt(elapsed time.Duration) float64 { return c.Rate }
func (c Constant) ExpectedArrivals() float64              { return c.ramp().ExpectedArrivals() }
func (c Constant) Planned() int64                         { return c.ramp().Planned() }
func (c Constant) Arrivals() Arrivals                     { return c.ramp().Arrivals() }
func (c Constant) peak() float64                          { return c.Rate }
func (c Constant) arrivalsFrom(first, stride int) Arrivals {
	return c.ramp().arrivalsFrom(first, stride)
}

// Ramp is evenly spaced arrivals at a rate that starts at Start and moves
// through Stages.
type Ramp struct {
	Start  float64
	Stages []Stage
}

// Validate says why the schedule cannot run.
func (r Ramp) Validate() error {
	if r.Start < 0 {
		return errors.New("rate must not be negative")
	}
	return checkStages(r.Stages, func(target float64) error {
		if target < 0 {
			return errors.New("stage rates must not be negative")
		}
		return nil
	})
}

// checkStages says why stages cannot run: none at all, a duration that is
// not positive, or a target that targetOK refuses.
func checkStages(stages []Stage, targetOK func(float64) error) error {
	if len(stages) == 0 {
		return errors.New("schedule needs a duration")
	}
	for _, st := range stages {
		if st.Duration <= 0 {
			return errors.New("stage durations must be positive")
		}
		if err := targetOK(st.Target); err != nil {
			return err
		}
	}
	return nil
}

func (r Ramp) Duration() time.Duration                { return curveOf(r.Start, r.Stages).total() }
func (r Ramp) TargetAt(elapsed time.Duration) float64 { return curveOf(r.Start, r.Stages).at(elapsed) }
func (r Ramp) ExpectedArrivals() float64              { return newIntegral(r).total }

// Planned counts the arrivals x = 0, 1, 2, ... below the expected total:
// exactly what a walk yields.
func (r Ramp) Planned() int64 { return int64(math.Ceil(newIntegral(r).total)) }

func (r Ramp) Arrivals() Arrivals { return r.arrivalsFrom(0, 1) }

// arrivalsFrom walks arrivals first, first+stride, ...: x = k exactly, as
// in the whole walk.
func (r Ramp) arrivalsFrom(first, stride int) Arrivals {
	return &rampWalk{in: newIntegral(r), x: float64(first), stride: stride}
}

// peak is the highest rate the ramp reaches: at a stage's end or its start.
func (r Ramp) peak() float64 {
	p := r.Start
	for _, s := range r.Stages {
		p = max(p, s.Target)
	}
	return p
}

// Poisson is arrivals of a Poisson process whose rate follows Rate, with
// exponential gaps drawn from a generator seeded by Seed: the same seed
// gives the same arrivals.
type Poisson struct {
	Rate Ramp
	Seed uint64
}

// Validate says why the schedule cannot run.
func (p Poisson) Validate() error                        { return p.Rate.Validate() }
func (p Poisson) Duration() time.Duration                { return p.Rate.Duration() }
func (p Poisson) TargetAt(elapsed time.Duration) float64 { return p.Rate.TargetAt(elapsed) }
func (p Poisson) ExpectedArrivals() float64              { return p.Rate.ExpectedArrivals() }

// Planned walks the arrivals to count them: O(arrivals), there is no closed
// form for the count one seed draws.
func (p Poisson) Planned() int64 { return countArrivals(p.Arrivals()) }

func (p Poisson) Arrivals() Arrivals { return p.arrivalsFrom(0, 1) }
func (p Poisson) peak() float64      { return p.Rate.peak() }

// arrivalsFrom walks arrivals first, first+stride, ...: it draws every gap
// of the whole schedule and adds them one by one in the same order, so each
// x is bit for bit the whole walk's, but inverts Λ only for its own.
func (p Poisson) arrivalsFrom(first, stride int) Arrivals {
	rng := rand.New(rand.NewPCG(p.Seed, p.Seed^0x9e3779b97f4a7c15))
	x := rng.ExpFloat64()
	for i := 0; i < first; i++ {
		x += rng.ExpFloat64()
	}
	return &rampWalk{in: newIntegral(p.Rate), rng: rng, x: x, stride: stride}
}

func countArrivals(a Arrivals) int64 {
	var n int64
	for _, ok := a.Next(); ok; _, ok = a.Next() {
		n++
	}
	return n
}

// Users is the closed model: Start virtual users, then as many as Stages
// say (a ramp moves linearly, so users join and leave one at a time).
type Users struct {
	Start  int
	Stages []Stage
}

// Validate says why the schedule cannot run.
func (u Users) Validate() error {
	if u.Start < 0 {
		return errors.New("concurrency must not be negative")
	}
	return checkStages(u.Stages, func(target float64) error {
		if target < 0 || target != math.Trunc(target) {
			return errors.New("stage users must be whole numbers >= 0")
		}
		return nil
	})
}

func (u Users) curve() curve                           { return curveOf(float64(u.Start), u.Stages) }
func (u Users) Duration() time.Duration                { return u.curve().total() }
func (u Users) TargetAt(elapsed time.Duration) float64 { return u.curve().at(elapsed) }
func (u Users) ExpectedArrivals() float64              { return 0 }
func (u Users) Planned() int64                         { return int64(u.Users()) }

// Users is the most users ever active: the start or the largest stage.
func (u Users) Users() int {
	n := u.Start
	for _, s := range u.Stages {
		n = max(n, int(s.Target))
	}
	return n
}

// Active reports whether user is among the first TargetAt(elapsed) users.
func (u Users) Active(user int, elapsed time.Duration) bool {
	return float64(user) < u.TargetAt(elapsed)
}

// curve is a piecewise-linear function of elapsed time.
type curve struct {
	start  float64
	stages []Stage
}

func curveOf(start float64, stages []Stage) curve { return curve{start: start, stages: stages} }

// total is the curve's length.
func (r curve) total() time.Duration {
	var t time.Duration
	for _, s := range r.stages {
		t += s.Duration
	}
	return t
}

// at returns the curve's value after elapsed.
func (r curve) at(elapsed time.Duration) float64 {
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

// piece is one stage of a rate ramp with the cumulative expected count of
// arrivals at its start.
type piece struct {
	t0       float64 // start, seconds
	dur      float64 // seconds
	r0, r1   float64 // rate at start and end, per second
	cumStart float64 // expected arrivals before t0
	area     float64 // expected arrivals within the piece
}

// integral is Λ(t) = ∫ rate of a ramp, piece by piece.
type integral struct {
	pieces []piece
	total  float64
}

func newIntegral(r Ramp) integral {
	var in integral
	t, from := 0.0, r.Start
	for _, st := range r.Stages {
		if st.Step {
			from = st.Target
		}
		d := st.Duration.Seconds()
		p := piece{t0: t, dur: d, r0: from, r1: st.Target, cumStart: in.total, area: (from + st.Target) / 2 * d}
		in.pieces = append(in.pieces, p)
		t += d
		in.total += p.area
		from = st.Target
	}
	return in
}

// rampWalk places arrivals by inverting the cumulative expected count
// Λ(t) = ∫ rate: the k-th arrival is at Λ⁻¹(x_k) where x_k = k for evenly
// spaced arrivals and x_k is a sum of k unit exponentials for Poisson ones
// (the time-rescaling theorem), so one inversion serves constant rates, ramps
// and both arrival processes.
type rampWalk struct {
	in      integral
	x       float64
	stride  int // walk every stride-th arrival (a segment's share)
	piece   int
	rng     *rand.Rand // nil: evenly spaced arrivals
	started bool
}

func (s *rampWalk) Next() (time.Duration, bool) {
	if s.started {
		if s.rng != nil {
			for i := 0; i < s.stride; i++ {
				s.x += s.rng.ExpFloat64()
			}
		} else {
			s.x += float64(s.stride)
		}
	}
	s.started = true
	// The last arrival must fall strictly inside the schedule: an arrival
	// exactly at Λ = total would start at the very end.
	if s.x >= s.in.total {
		return 0, false
	}
	ps := s.in.pieces
	for s.piece < len(ps) && s.x >= ps[s.piece].cumStart+ps[s.piece].area {
		s.piece++
	}
	if s.piece == len(ps) {
		return 0, false
	}
	g := ps[s.piece]
	y := s.x - g.cumStart // arrivals into this piece
	var tau float64
	a := (g.r1 - g.r0) / g.dur
	if y <= 0 {
		tau = 0
	} else if a == 0 {
		tau = y / g.r0
	} else {
		// Solve a/2 τ² + r0 τ = y for the root inside the piece, written
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
