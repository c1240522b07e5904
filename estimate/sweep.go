package estimate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Step is one level of a stepped load: a closed model with Concurrency
// workers, or an open model at Rate requests per second, held for Duration.
type Step struct {
	Concurrency int           `json:"concurrency,omitempty"`
	Rate        float64       `json:"rate,omitempty"`
	Duration    time.Duration `json:"duration_ns"`
}

func (s Step) String() string {
	if s.Concurrency > 0 {
		return fmt.Sprintf("concurrency %d for %s", s.Concurrency, s.Duration)
	}
	return fmt.Sprintf("rate %s/s for %s", Num(s.Rate), s.Duration)
}

// StepResult is what the load engine measured during one step. Offered and
// Achieved are requests per second; Concurrency is the concurrency held (or
// the mean number in flight, for an open-model step).
type StepResult struct {
	Offered     float64       `json:"offered"`
	Achieved    float64       `json:"achieved"`
	Concurrency int           `json:"concurrency"`
	Mean        time.Duration `json:"mean_ns"`
	P50         time.Duration `json:"p50_ns"`
	P90         time.Duration `json:"p90_ns"`
	P99         time.Duration `json:"p99_ns"`
	P999        time.Duration `json:"p999_ns"`
	Errors      int64         `json:"errors"`
	Dropped     int64         `json:"dropped"`
	Count       int64         `json:"count"`
}

// StepRecord is one step and its measurements.
type StepRecord struct {
	Step   Step       `json:"step"`
	Result StepResult `json:"result"`
}

// N is the concurrency of the step for the USL fit: the concurrency the
// engine reports, else the one the step asked for, else Little's law from
// the achieved rate and the mean latency (N = X·R).
func (r StepRecord) N() float64 {
	switch {
	case r.Result.Concurrency > 0:
		return float64(r.Result.Concurrency)
	case r.Step.Concurrency > 0:
		return float64(r.Step.Concurrency)
	default:
		return r.Result.Achieved * r.Result.Mean.Seconds()
	}
}

// SweepResult is every step run, in order, and the USL fitted over the
// (concurrency, achieved rate) points.
type SweepResult struct {
	Steps    []StepRecord `json:"steps"`
	Fit      *USLFit      `json:"fit,omitempty"`
	FitError string       `json:"fit_error,omitempty"`
}

// Points returns the (N, X) points of the steps that carried load.
func (r *SweepResult) Points() []Point {
	var pts []Point
	for _, s := range r.Steps {
		if n := s.N(); n > 0 {
			pts = append(pts, Point{N: n, X: s.Result.Achieved})
		}
	}
	return pts
}

// Sweep runs the steps in order with run, which drives one step of load
// and returns what it measured, then fits the USL to the results. On an
// error or cancellation it returns the steps done so far (fitted if there
// are enough) together with the error.
func Sweep(ctx context.Context, steps []Step, run func(context.Context, Step) (StepResult, error)) (*SweepResult, error) {
	if len(steps) == 0 {
		return nil, errors.New("sweep: no steps")
	}
	res := &SweepResult{}
	for i, s := range steps {
		if err := ctx.Err(); err != nil {
			res.fit()
			return res, fmt.Errorf("sweep: before step %d: %w", i+1, err)
		}
		r, err := run(ctx, s)
		if err != nil {
			res.fit()
			return res, fmt.Errorf("sweep: step %d (%s): %w", i+1, s, err)
		}
		res.Steps = append(res.Steps, StepRecord{Step: s, Result: r})
	}
	res.fit()
	return res, nil
}

func (r *SweepResult) fit() {
	fit, err := FitUSL(r.Points())
	if err != nil {
		r.FitError = err.Error()
		return
	}
	r.Fit = fit
}

// SLO is a latency objective on one statistic of a step: "p99<200ms".
type SLO struct {
	Metric    string        // p50, p90, p99, p99.9 or mean
	Inclusive bool          // <= rather than <
	Threshold time.Duration // the limit
}

func (s SLO) String() string {
	op := "<"
	if s.Inclusive {
		op = "<="
	}
	return s.Metric + op + s.Threshold.String()
}

// ParseSLO parses "p99<200ms", "p99.9 <= 1s" or "mean<50ms".
func ParseSLO(s string) (SLO, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexAny(t, "<>=")
	if i < 0 {
		return SLO{}, fmt.Errorf("%q: want metric<limit such as p99<200ms", s)
	}
	metric, rest := strings.ToLower(strings.TrimSpace(t[:i])), t[i:]
	var slo SLO
	switch {
	case strings.HasPrefix(rest, "<="):
		slo.Inclusive, rest = true, rest[2:]
	case strings.HasPrefix(rest, "<"):
		rest = rest[1:]
	default:
		return SLO{}, fmt.Errorf("%q: want the operator < or <=", s)
	}
	switch metric {
	case "p50", "median":
		slo.Metric = "p50"
	case "p90", "p99", "mean":
		slo.Metric = metric
	case "p99.9", "p999":
		slo.Metric = "p99.9"
	default:
		return SLO{}, fmt.Errorf("%q: unknown metric %q (want p50, p90, p99, p99.9 or mean)", s, metric)
	}
	d, err := ParseDuration(strings.TrimSpace(rest))
	if err != nil {
		return SLO{}, fmt.Errorf("%q: limit: %w", s, err)
	}
	if d <= 0 {
		return SLO{}, fmt.Errorf("%q: want a limit above zero", s)
	}
	slo.Threshold = d
	return slo, nil
}

// Value returns the statistic the SLO is about.
func (s SLO) Value(r StepResult) time.Duration {
	switch s.Metric {
	case "p50":
		return r.P50
	case "p90":
		return r.P90
	case "p99.9":
		return r.P999
	case "mean":
		return r.Mean
	}
	return r.P99
}

// Met reports whether the step's statistic is within the SLO.
func (s SLO) Met(r StepResult) bool {
	v := s.Value(r)
	if s.Inclusive {
		return v <= s.Threshold
	}
	return v < s.Threshold
}

// SLOResult is the highest rate at which the SLO held.
type SLOResult struct {
	SLO string `json:"slo"`
	// MaxRate is in requests per second. It is zero when Found is false.
	MaxRate float64 `json:"max_rate"`
	Found   bool    `json:"found"`
	// HeldThroughout means the SLO held at every step, so MaxRate is only
	// a lower bound: the sweep did not go far enough.
	HeldThroughout bool   `json:"held_throughout,omitempty"`
	Basis          string `json:"basis"`
}

// MaxRateUnderSLO walks the steps in the order they ran (rising load) and
// returns the highest achieved rate before the SLO first breaks. Between
// the last step that met it and the first that did not, the rate is
// interpolated linearly to where the statistic crosses the limit. Later
// steps that meet the SLO again do not count: the SLO must stay met.
func MaxRateUnderSLO(steps []StepRecord, slo SLO) SLOResult {
	res := SLOResult{SLO: slo.String()}
	var last *StepRecord
	lastIdx := 0
	for i := range steps {
		s := &steps[i]
		if slo.Met(s.Result) {
			if last == nil || s.Result.Achieved > last.Result.Achieved {
				last, lastIdx = s, i
			}
			continue
		}
		if last == nil {
			res.Basis = fmt.Sprintf("the SLO failed at the first step (%s %s at %s req/s): measure at lower load",
				slo.Metric, HumanDuration(slo.Value(s.Result)), Num(s.Result.Achieved))
			return res
		}
		res.Found = true
		r0, r1 := last.Result.Achieved, s.Result.Achieved
		l0, l1 := float64(slo.Value(last.Result)), float64(slo.Value(s.Result))
		res.MaxRate = r0
		if r1 > r0 && l1 > l0 {
			res.MaxRate = r0 + (float64(slo.Threshold)-l0)*(r1-r0)/(l1-l0)
			res.Basis = fmt.Sprintf("interpolated between step %d (%s %s at %s req/s) and step %d (%s %s at %s req/s)",
				lastIdx+1, slo.Metric, HumanDuration(time.Duration(l0)), Num(r0),
				i+1, slo.Metric, HumanDuration(time.Duration(l1)), Num(r1))
		} else {
			res.Basis = fmt.Sprintf("step %d; the SLO failed at step %d, whose rate did not rise", lastIdx+1, i+1)
		}
		return res
	}
	if last == nil {
		res.Basis = "no steps"
		return res
	}
	res.Found, res.HeldThroughout, res.MaxRate = true, true, last.Result.Achieved
	res.Basis = fmt.Sprintf("the SLO held at every step: a lower bound, at step %d; sweep further", lastIdx+1)
	return res
}

// CapacityOptions says how to turn a sweep into an instance count.
type CapacityOptions struct {
	SLO         *SLO    // nil: no latency objective
	TargetPeak  float64 // peak requests per second to serve; 0: no count
	Utilisation float64 // target utilisation, 0 < u <= 1 (0 means 1)
	Spare       int     // k in N+k
}

// SweepReport is what 'faultline estimate sweep' prints.
type SweepReport struct {
	Steps     []StepRecord      `json:"steps"`
	Fit       *USLFit           `json:"fit,omitempty"`
	FitError  string            `json:"fit_error,omitempty"`
	SLO       *SLOResult        `json:"slo,omitempty"`
	Capacity  *CapacityEstimate `json:"capacity,omitempty"`
	Instances *Line             `json:"instances,omitempty"`
	Warnings  []string          `json:"warnings,omitempty"`
}

// Report derives the capacity of one instance from the sweep (the highest
// rate under the SLO if one is given, else the fitted peak X(N*), else the
// highest measured rate) and, given a target peak, the instances needed.
func (r *SweepResult) Report(opts CapacityOptions) *SweepReport {
	rep := &SweepReport{Steps: r.Steps, Fit: r.Fit, FitError: r.FitError}
	if r.Fit != nil {
		rep.Warnings = append(rep.Warnings, r.Fit.Warnings...)
	} else if r.FitError != "" {
		rep.Warnings = append(rep.Warnings, "no USL fit: "+r.FitError)
	}
	switch {
	case opts.SLO != nil:
		s := MaxRateUnderSLO(r.Steps, *opts.SLO)
		rep.SLO = &s
		if s.Found {
			rep.Capacity = &CapacityEstimate{PerInstance: s.MaxRate, Unit: "req/s", Basis: "highest rate under " + s.SLO}
		}
		if s.HeldThroughout {
			rep.Warnings = append(rep.Warnings, "the SLO held at every step: the capacity is a lower bound")
		}
	case r.Fit != nil:
		rep.Capacity = r.Fit.Capacity()
	default:
		best := 0.0
		for _, s := range r.Steps {
			best = math.Max(best, s.Result.Achieved)
		}
		if best > 0 {
			rep.Capacity = &CapacityEstimate{PerInstance: best, Unit: "req/s", Basis: "highest measured rate"}
		}
	}
	for i, s := range r.Steps {
		if s.Result.Dropped > 0 {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("step %d: %d requests could not be sent on time: the generator, not the target, may be the limit", i+1, s.Result.Dropped))
		}
	}
	if opts.TargetPeak > 0 {
		if rep.Capacity == nil || rep.Capacity.PerInstance <= 0 {
			rep.Warnings = append(rep.Warnings, "no per-instance capacity: cannot count instances")
		} else {
			u := opts.Utilisation
			if u <= 0 {
				u = 1
			}
			_, l := Instances(opts.TargetPeak, rep.Capacity.PerInstance, u, opts.Spare)
			l.Note = "capacity: " + rep.Capacity.Basis
			rep.Instances = &l
		}
	}
	return rep
}

// WriteText writes the sweep as a table of steps, then the fit, the SLO
// result, the capacity and the instance count.
func (r *SweepReport) WriteText(w io.Writer) error {
	out := &errWriter{w: w}
	out.printf("STEPS\n")
	tw := tabwriter.NewWriter(out.w, 0, 0, 2, ' ', tabwriter.AlignRight)
	out.tab(tw, "  step\tconcurrency\toffered/s\tachieved/s\tmean\tp50\tp99\tp99.9\terrors\tdropped\t\n")
	for i, s := range r.Steps {
		res := s.Result
		out.tab(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t\n", i+1,
			Num(s.N()), Num(res.Offered), Num(res.Achieved),
			HumanDuration(res.Mean), HumanDuration(res.P50), HumanDuration(res.P99), HumanDuration(res.P999),
			res.Errors, res.Dropped)
	}
	out.flush(tw)
	out.printf("\n")
	if r.Fit != nil {
		writeFit(out, r.Fit)
	} else {
		out.printf("USL FIT  none: %s\n", r.FitError)
	}
	if r.SLO != nil {
		if r.SLO.Found {
			out.printf("  SLO        %s holds up to %s req/s (%s)\n", r.SLO.SLO, Num(r.SLO.MaxRate), r.SLO.Basis)
		} else {
			out.printf("  SLO        %s: %s\n", r.SLO.SLO, r.SLO.Basis)
		}
	}
	if r.Capacity != nil {
		out.printf("  capacity   %s req/s per instance (%s)\n", Num(r.Capacity.PerInstance), r.Capacity.Basis)
	}
	if r.Instances != nil {
		out.printf("\nINSTANCES\n")
		writeLine(out, *r.Instances)
	}
	if r.Fit != nil {
		writePoints(out, r.Fit)
	}
	writeWarnings(out, r.Warnings)
	return out.err
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// ParseSweepSpec turns the sweep flags into steps: --concurrency "1,2,4,8"
// (closed model) or --rates "100/s,200/s" (open model), each held for
// --step. The levels must rise, so that the SLO search reads them in order.
func ParseSweepSpec(concurrency, rates string, step time.Duration) ([]Step, error) {
	concurrency, rates = strings.TrimSpace(concurrency), strings.TrimSpace(rates)
	switch {
	case concurrency == "" && rates == "":
		return nil, errors.New("give --concurrency (such as 1,2,4,8,16,32,64) or --rates (such as 100/s,200/s,400/s)")
	case concurrency != "" && rates != "":
		return nil, errors.New("give --concurrency or --rates, not both")
	}
	if step <= 0 {
		return nil, fmt.Errorf("--step %s: want a duration above zero", step)
	}
	var steps []Step
	if concurrency != "" {
		prev := 0
		for _, item := range splitList(concurrency) {
			n, err := strconv.Atoi(item)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("--concurrency: %q: want a whole number above zero", item)
			}
			if n <= prev {
				return nil, fmt.Errorf("--concurrency: %d after %d: the levels must rise", n, prev)
			}
			prev = n
			steps = append(steps, Step{Concurrency: n, Duration: step})
		}
	} else {
		prev := 0.0
		for _, item := range splitList(rates) {
			r, err := ParseRate(item)
			if err != nil {
				return nil, fmt.Errorf("--rates: %w", err)
			}
			v := r.PerSecond()
			if v <= 0 {
				return nil, fmt.Errorf("--rates: %q: want a rate above zero", item)
			}
			if v <= prev {
				return nil, fmt.Errorf("--rates: %q after %s/s: the rates must rise", item, Num(prev))
			}
			prev = v
			steps = append(steps, Step{Rate: v, Duration: step})
		}
	}
	if len(steps) == 0 {
		return nil, errors.New("give at least one load level")
	}
	return steps, nil
}

// ParseCapacityOptions turns the sweep's planning flags into options:
// --slo, --target-peak (a rate), --target-utilisation or --headroom (a
// percentage) and --redundancy (N+k). Empty strings leave a field unset.
func ParseCapacityOptions(slo, targetPeak, utilisation, headroom, redundancy string) (CapacityOptions, error) {
	var o CapacityOptions
	if slo != "" {
		s, err := ParseSLO(slo)
		if err != nil {
			return o, fmt.Errorf("--slo: %w", err)
		}
		o.SLO = &s
	}
	if targetPeak != "" {
		r, err := ParseRate(targetPeak)
		if err != nil {
			return o, fmt.Errorf("--target-peak: %w", err)
		}
		o.TargetPeak = r.PerSecond()
	}
	if utilisation != "" && headroom != "" {
		return o, errors.New("give --target-utilisation or --headroom, not both")
	}
	if utilisation != "" {
		u, err := ParsePercent(utilisation)
		if err != nil {
			return o, fmt.Errorf("--target-utilisation: %w", err)
		}
		if u == 0 {
			return o, errors.New("--target-utilisation: want a percentage above 0%")
		}
		o.Utilisation = u
	}
	if headroom != "" {
		h, err := ParsePercent(headroom)
		if err != nil {
			return o, fmt.Errorf("--headroom: %w", err)
		}
		if h >= 1 {
			return o, errors.New("--headroom: want a percentage below 100%")
		}
		o.Utilisation = 1 - h
	}
	if redundancy != "" {
		k, err := ParseRedundancy(redundancy)
		if err != nil {
			return o, fmt.Errorf("--redundancy: %w", err)
		}
		o.Spare = k
	}
	return o, nil
}
