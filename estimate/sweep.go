package estimate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/faultline-dev/faultline/internal/metric"
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

// StepResult is what the load engine measured during one step. The three
// rates are requests per second: Offered is what the step asked for (open
// model) or sent (closed model), Achieved the responses that came back,
// errors included, and Successful those that were not errors. Capacity is
// read from Successful only: a target that refuses quickly answers fast.
// Concurrency is the concurrency held (or the mean number in flight, for an
// open-model step).
type StepResult struct {
	Offered     float64       `json:"offered"`
	Achieved    float64       `json:"achieved"`
	Successful  float64       `json:"successful"`
	Concurrency int           `json:"concurrency"`
	Mean        time.Duration `json:"mean_ns"`
	P50         time.Duration `json:"p50_ns"`
	P90         time.Duration `json:"p90_ns"`
	P99         time.Duration `json:"p99_ns"`
	P999        time.Duration `json:"p999_ns"`
	Errors      int64         `json:"errors"`
	Dropped     int64         `json:"dropped"`
	Count       int64         `json:"count"`
	// ErrorKinds counts the errors by kind ("HTTP 429", "timeout"), so a
	// step that breaks the error objective can say why.
	ErrorKinds map[string]int64 `json:"error_kinds,omitempty"`
}

// ErrorRate is the share of completed requests that were errors (0 when
// nothing completed).
func (r StepResult) ErrorRate() float64 {
	if r.Count <= 0 {
		return 0
	}
	return float64(r.Errors) / float64(r.Count)
}

// topErrors names the commonest error kinds, most frequent first, at most
// three: "HTTP 429 ×900, timeout ×3".
func (r StepResult) topErrors() string {
	kinds := make([]string, 0, len(r.ErrorKinds))
	for k := range r.ErrorKinds {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		a, b := r.ErrorKinds[kinds[i]], r.ErrorKinds[kinds[j]]
		return a > b || (a == b && kinds[i] < kinds[j])
	})
	var parts []string
	for i, k := range kinds {
		if i == 3 {
			parts = append(parts, "...")
			break
		}
		parts = append(parts, fmt.Sprintf("%s ×%s", k, Num(float64(r.ErrorKinds[k]))))
	}
	return strings.Join(parts, ", ")
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
// (concurrency, successful rate) points. Stopped says why the sweep ended
// before its last step, when an error objective broke.
type SweepResult struct {
	Steps    []StepRecord `json:"steps"`
	Fit      *USLFit      `json:"fit,omitempty"`
	FitError string       `json:"fit_error,omitempty"`
	Stopped  string       `json:"stopped,omitempty"`
}

// Points returns the (N, X) points of the steps that carried load, X being
// the successful rate.
func (r *SweepResult) Points() []Point {
	var pts []Point
	for _, s := range r.Steps {
		if n := s.N(); n > 0 {
			pts = append(pts, Point{N: n, X: s.Result.Successful})
		}
	}
	return pts
}

// StepFunc drives one step of load and returns what it measured.
type StepFunc func(context.Context, Step) (StepResult, error)

// Sweep runs the steps in order with run, then fits the USL to the
// results. A step that breaks one of the error objectives in slos ends the
// sweep there: more load on a target that already fails its requests
// measures nothing more about its capacity. On an error or cancellation it
// returns the steps done so far (fitted if there are enough) together with
// the error.
func Sweep(ctx context.Context, steps []Step, slos []SLO, run StepFunc) (*SweepResult, error) {
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
		if broken := brokenErrorSLO(slos, r); broken != nil && i < len(steps)-1 {
			res.Stopped = fmt.Sprintf("stopped after step %d of %d: %s; the higher steps were not run",
				i+1, len(steps), broken.Why(r))
			break
		}
	}
	res.fit()
	return res, nil
}

// brokenErrorSLO returns the first error objective r does not meet.
func brokenErrorSLO(slos []SLO, r StepResult) *SLO {
	for i := range slos {
		if slos[i].Metric == ErrorRateMetric && !slos[i].Met(r) {
			return &slos[i]
		}
	}
	return nil
}

func (r *SweepResult) fit() {
	fit, err := FitUSL(r.Points())
	if err != nil {
		r.FitError = err.Error()
		return
	}
	r.Fit = fit
}

// ErrorRateMetric names the error objective: the share of completed
// requests that failed (an HTTP status of 400 or above, or no response).
const ErrorRateMetric = "error_rate"

// DefaultErrorSLO is the error objective of a sweep whose user gave none:
// a step where 1% or more of the requests fail is past the capacity,
// however fast the failures come back.
var DefaultErrorSLO = SLO{Metric: ErrorRateMetric, MaxShare: 0.01}

// SLO is an objective on one statistic of a step: a latency ("p99<200ms")
// or the error rate ("error_rate<1%").
type SLO struct {
	Metric    string        // p50, p90, p99, p99.9, mean or error_rate
	Inclusive bool          // <= rather than <
	Threshold time.Duration // the latency limit
	MaxShare  float64       // the error-rate limit, a share from 0 to 1
}

func (s SLO) String() string {
	op := "<"
	if s.Inclusive {
		op = "<="
	}
	return s.Metric + op + s.format(s.limit())
}

// ParseSLOs parses a comma-separated list of objectives, at most one per
// metric, and adds DefaultErrorSLO when the list has no error objective.
func ParseSLOs(list string) ([]SLO, error) {
	var slos []SLO
	seen := map[string]bool{}
	for _, item := range splitList(list) {
		s, err := ParseSLO(item)
		if err != nil {
			return nil, err
		}
		if seen[s.Metric] {
			return nil, fmt.Errorf("%q: %s is given twice", item, s.Metric)
		}
		seen[s.Metric] = true
		slos = append(slos, s)
	}
	if !seen[ErrorRateMetric] {
		slos = append(slos, DefaultErrorSLO)
	}
	return slos, nil
}

// sloAliases are names a sweep's objectives took before they were written
// in the metric vocabulary; "errors" is the error rate here, where the
// vocabulary's errors is a count.
var sloAliases = map[string]string{"median": "p50", "p999": "p99.9", "errors": ErrorRateMetric}

// sloPercentiles are the percentiles a step measures, by the name its SLO
// carries.
var sloPercentiles = map[float64]string{50: "p50", 90: "p90", 99: "p99", 99.9: "p99.9"}

// ParseSLO parses "p99<200ms", "p99.9 <= 1s", "mean<50ms" or
// "error_rate<1%": a metric of internal/metric's vocabulary that a step
// measures, and its limit written in the metric's unit, as `faultline load
// --threshold` reads them.
func ParseSLO(s string) (SLO, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexAny(t, "<>=")
	if i < 0 {
		return SLO{}, fmt.Errorf("%q: want metric<limit such as p99<200ms or error_rate<1%%", s)
	}
	name, rest := strings.ToLower(strings.TrimSpace(t[:i])), t[i:]
	var slo SLO
	switch {
	case strings.HasPrefix(rest, "<="):
		slo.Inclusive, rest = true, rest[2:]
	case strings.HasPrefix(rest, "<"):
		rest = rest[1:]
	default:
		return SLO{}, fmt.Errorf("%q: want the operator < or <=", s)
	}
	m, ok := sloMetric(name)
	if !ok {
		return SLO{}, fmt.Errorf("%q: unknown metric %q (want p50, p90, p99, p99.9, mean or error_rate)", s, name)
	}
	slo.Metric = m.Name
	rest = strings.TrimSpace(rest)
	// A bare number is a fraction to the vocabulary, but "error_rate<1"
	// reads as 1%: an objective's error rate carries its percent sign.
	if m.Unit == metric.Ratio && !strings.HasSuffix(rest, "%") {
		return SLO{}, fmt.Errorf("%q: limit %q: want a percentage such as 1%%", s, rest)
	}
	v, err := m.Unit.Parse(rest)
	if err != nil {
		return SLO{}, fmt.Errorf("%q: limit: %w", s, err)
	}
	if m.Unit == metric.Ratio {
		if v == 0 && !slo.Inclusive {
			return SLO{}, fmt.Errorf("%q: no step can have an error rate below 0%%: write error_rate<=0%%", s)
		}
		if v < 0 || v > 1 {
			return SLO{}, fmt.Errorf("%q: want an error rate between 0%% and 100%%", s)
		}
		slo.MaxShare = v
		return slo, nil
	}
	if v <= 0 {
		return SLO{}, fmt.Errorf("%q: want a limit above zero", s)
	}
	slo.Threshold = time.Duration(v)
	return slo, nil
}

// sloMetric finds name in the metric vocabulary (or sloAliases) and keeps
// it when a step measures it, named as the SLO names it.
func sloMetric(name string) (metric.Metric, bool) {
	if a, ok := sloAliases[name]; ok {
		name = a
	}
	m, err := metric.LookupMeasured(name)
	switch {
	case err != nil:
		return m, false
	case m.Name == ErrorRateMetric:
		return m, true
	case m.Histogram != metric.Latency:
		return m, false
	case m == metric.Must("mean"):
		return m, true
	}
	canonical, ok := sloPercentiles[m.Percentile]
	m.Name = canonical
	return m, ok
}

// value returns the statistic the SLO is about: nanoseconds for a
// latency, a share for the error rate.
func (s SLO) value(r StepResult) float64 {
	switch s.Metric {
	case ErrorRateMetric:
		return r.ErrorRate()
	case "p50":
		return float64(r.P50)
	case "p90":
		return float64(r.P90)
	case "p99.9":
		return float64(r.P999)
	case "mean":
		return float64(r.Mean)
	}
	return float64(r.P99)
}

func (s SLO) limit() float64 {
	if s.Metric == ErrorRateMetric {
		return s.MaxShare
	}
	return float64(s.Threshold)
}

// format prints a value of the SLO's statistic: a duration or a percentage.
func (s SLO) format(v float64) string {
	if s.Metric == ErrorRateMetric {
		return Percent(v)
	}
	return HumanDuration(time.Duration(v))
}

// Met reports whether the step's statistic is within the SLO.
func (s SLO) Met(r StepResult) bool {
	v := s.value(r)
	if s.Inclusive {
		return v <= s.limit()
	}
	return v < s.limit()
}

// Why says how step r breaks the SLO: "error rate 90% (HTTP 429 ×900)
// breaks error_rate<1%".
func (s SLO) Why(r StepResult) string {
	if s.Metric == ErrorRateMetric {
		why := fmt.Sprintf("error rate %s", Percent(r.ErrorRate()))
		if top := r.topErrors(); top != "" {
			why += " (" + top + ")"
		}
		return why + " breaks " + s.String()
	}
	return fmt.Sprintf("%s %s breaks %s", s.Metric, s.format(s.value(r)), s)
}

// describe prints the statistic at a step and its successful rate: "p99
// 150ms at 800 req/s".
func (s SLO) describe(r StepResult) string {
	name := s.Metric
	if s.Metric == ErrorRateMetric {
		name = "error rate"
	}
	return fmt.Sprintf("%s %s at %s req/s", name, s.format(s.value(r)), Num(r.Successful))
}

// Percent prints a share as a percentage with up to two decimals ("90%",
// "0.5%", "12.35%").
func Percent(share float64) string {
	return Num(math.Round(share*1e4)/100) + "%"
}

// SLOResult is the highest successful rate at which every objective held.
type SLOResult struct {
	SLO string `json:"slo"`
	// MaxRate is in successful requests per second. It is zero when Found
	// is false.
	MaxRate float64 `json:"max_rate"`
	Found   bool    `json:"found"`
	// HeldThroughout means every objective held at every step, so MaxRate
	// is only a lower bound: the sweep did not go far enough.
	HeldThroughout bool `json:"held_throughout,omitempty"`
	// Broken names the objectives the first failing step broke, and how.
	Broken string `json:"broken,omitempty"`
	Basis  string `json:"basis"`
}

// MaxRateUnderSLO walks the steps in the order they ran (rising load) and
// returns the highest successful rate before any of the objectives first
// breaks. Between the last step that met them all and the first that did
// not, the rate is interpolated linearly to where the broken statistic
// crosses its limit (the lowest such rate when several broke). Later steps
// that meet the objectives again do not count: they must stay met.
func MaxRateUnderSLO(steps []StepRecord, slos ...SLO) SLOResult {
	names := make([]string, len(slos))
	for i, s := range slos {
		names[i] = s.String()
	}
	res := SLOResult{SLO: strings.Join(names, ", ")}
	var last *StepRecord
	lastIdx := 0
	for i := range steps {
		s := &steps[i]
		var broken []SLO
		var whys []string
		for _, slo := range slos {
			if !slo.Met(s.Result) {
				broken = append(broken, slo)
				whys = append(whys, slo.Why(s.Result))
			}
		}
		if len(broken) == 0 {
			if last == nil || s.Result.Successful > last.Result.Successful {
				last, lastIdx = s, i
			}
			continue
		}
		res.Broken = fmt.Sprintf("step %d: %s", i+1, strings.Join(whys, "; "))
		if last == nil {
			res.Basis = fmt.Sprintf("the SLO failed at the first step (%s): measure at lower load", strings.Join(whys, "; "))
			return res
		}
		res.Found = true
		res.MaxRate, res.Basis = crossing(*last, lastIdx, *s, i, broken)
		return res
	}
	if last == nil {
		res.Basis = "no steps"
		return res
	}
	res.Found, res.HeldThroughout, res.MaxRate = true, true, last.Result.Successful
	res.Basis = fmt.Sprintf("the SLO held at every step: a lower bound, at step %d; sweep further", lastIdx+1)
	return res
}

// crossing interpolates the successful rate at which the first of the
// broken objectives reaches its limit between the passing step a and the
// failing step b.
func crossing(a StepRecord, ai int, b StepRecord, bi int, broken []SLO) (float64, string) {
	r0, r1 := a.Result.Successful, b.Result.Successful
	if r1 <= r0 {
		return r0, fmt.Sprintf("step %d; the SLO failed at step %d, whose successful rate did not rise", ai+1, bi+1)
	}
	best, basis := r1, ""
	for _, slo := range broken {
		l0, l1 := slo.value(a.Result), slo.value(b.Result)
		rate := r0
		if l1 > l0 {
			rate = r0 + (slo.limit()-l0)*(r1-r0)/(l1-l0)
		}
		if rate < best {
			best = rate
			basis = fmt.Sprintf("interpolated between step %d (%s) and step %d (%s)",
				ai+1, slo.describe(a.Result), bi+1, slo.describe(b.Result))
		}
	}
	return best, basis
}

// CapacityOptions says how to turn a sweep into an instance count.
type CapacityOptions struct {
	SLOs        []SLO   // objectives every counted step must meet; none: no search
	TargetPeak  float64 // peak requests per second to serve; 0: no count
	Utilisation float64 // target utilisation, 0 < u <= 1 (0 means 1)
	Spare       int     // k in N+k
}

// SweepReport is what 'faultline estimate sweep' prints.
type SweepReport struct {
	Steps     []StepRecord      `json:"steps"`
	Fit       *USLFit           `json:"fit,omitempty"`
	FitError  string            `json:"fit_error,omitempty"`
	Stopped   string            `json:"stopped,omitempty"`
	SLO       *SLOResult        `json:"slo,omitempty"`
	Capacity  *CapacityEstimate `json:"capacity,omitempty"`
	Instances *Line             `json:"instances,omitempty"`
	Warnings  []string          `json:"warnings,omitempty"`
}

// Report derives the capacity of one instance from the sweep's successful
// throughput and, given a target peak, the instances needed.
func (r *SweepResult) Report(opts CapacityOptions) *SweepReport {
	rep := &SweepReport{Steps: r.Steps, Fit: r.Fit, FitError: r.FitError, Stopped: r.Stopped}
	if r.Fit != nil {
		rep.Warnings = append(rep.Warnings, r.Fit.Warnings...)
	} else if r.FitError != "" {
		rep.Warnings = append(rep.Warnings, "no USL fit: "+r.FitError)
	}
	rep.Capacity = r.capacity(opts, rep)
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

// capacity is the highest successful rate under the objectives when a step
// broke one; when they held throughout, a latency objective makes that
// rate a lower bound, and an error objective alone leaves the answer to
// the fitted peak X(N*), else the highest successful rate measured. No
// capacity when the first step already broke an objective.
func (r *SweepResult) capacity(opts CapacityOptions, rep *SweepReport) *CapacityEstimate {
	latency := false
	for _, s := range opts.SLOs {
		latency = latency || s.Metric != ErrorRateMetric
	}
	if len(opts.SLOs) > 0 {
		s := MaxRateUnderSLO(r.Steps, opts.SLOs...)
		rep.SLO = &s
		switch {
		case !s.Found:
			return nil
		case !s.HeldThroughout:
			return &CapacityEstimate{PerInstance: s.MaxRate, Unit: "req/s", Basis: "highest successful rate under " + s.SLO}
		case latency:
			rep.Warnings = append(rep.Warnings, "the SLO held at every step: the capacity is a lower bound")
			return &CapacityEstimate{PerInstance: s.MaxRate, Unit: "req/s", Basis: "highest successful rate under " + s.SLO}
		}
	}
	if r.Fit != nil {
		return r.Fit.Capacity()
	}
	best := 0.0
	for _, s := range r.Steps {
		best = math.Max(best, s.Result.Successful)
	}
	if best > 0 {
		return &CapacityEstimate{PerInstance: best, Unit: "req/s", Basis: "highest successful rate measured"}
	}
	return nil
}

// WriteText writes the sweep as a table of steps, then the fit, the SLO
// result, the capacity and the instance count.
func (r *SweepReport) WriteText(w io.Writer) error {
	out := &errWriter{w: w}
	out.printf("STEPS\n")
	tw := tabwriter.NewWriter(out.w, 0, 0, 2, ' ', tabwriter.AlignRight)
	out.tab(tw, "  step\tconcurrency\toffered/s\tachieved/s\tsuccessful/s\terrors\tmean\tp50\tp99\tp99.9\tdropped\t\n")
	for i, s := range r.Steps {
		res := s.Result
		out.tab(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", i+1,
			Num(s.N()), Num(res.Offered), Num(res.Achieved), Num(res.Successful),
			fmt.Sprintf("%s (%s)", Num(float64(res.Errors)), Percent(res.ErrorRate())),
			HumanDuration(res.Mean), HumanDuration(res.P50), HumanDuration(res.P99), HumanDuration(res.P999),
			res.Dropped)
	}
	out.flush(tw)
	out.printf("  achieved: responses per second, errors included; successful: without errors.\n")
	if r.Stopped != "" {
		out.printf("  %s\n", r.Stopped)
	}
	out.printf("\n")
	if r.Fit != nil {
		writeFit(out, r.Fit)
	} else {
		out.printf("USL FIT  none: %s\n", r.FitError)
	}
	if r.SLO != nil {
		switch {
		case r.SLO.Found:
			out.printf("  SLO        %s holds up to %s successful req/s (%s)\n", r.SLO.SLO, Num(r.SLO.MaxRate), r.SLO.Basis)
		default:
			out.printf("  SLO        %s: %s\n", r.SLO.SLO, r.SLO.Basis)
		}
		if r.SLO.Broken != "" {
			out.printf("  broken at  %s\n", r.SLO.Broken)
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
// --slo (comma-separated objectives; error_rate<1% unless one is given),
// --target-peak (a rate), --target-utilisation or --headroom (a
// percentage) and --redundancy (N+k). Empty strings leave a field unset.
func ParseCapacityOptions(slo, targetPeak, utilisation, headroom, redundancy string) (CapacityOptions, error) {
	var o CapacityOptions
	slos, err := ParseSLOs(slo)
	if err != nil {
		return o, fmt.Errorf("--slo: %w", err)
	}
	o.SLOs = slos
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
