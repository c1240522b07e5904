package loadgen

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// unit is what kind of value a metric has, which decides what a threshold
// value must look like and how it is printed.
type unit int

const (
	unitDuration unit = iota
	unitRatio
	unitRate
	unitCount
)

// metric names a figure computed from Stats for one request name.
type metric struct {
	name string
	unit unit
	eval func(s *Stats, name string) float64
}

// histogramMetric makes latency statistics over one of the histograms.
func histogramMetric(label string, hist func(*Stats, string) *hdrhistogram.Histogram, stat string) (metric, error) {
	full := stat
	if label != "" {
		full = label + "." + stat
	}
	switch stat {
	case "mean":
		return metric{full, unitDuration, func(s *Stats, n string) float64 { return hist(s, n).Mean() }}, nil
	case "max":
		return metric{full, unitDuration, func(s *Stats, n string) float64 { return float64(hist(s, n).Max()) }}, nil
	case "min":
		return metric{full, unitDuration, func(s *Stats, n string) float64 { return float64(hist(s, n).Min()) }}, nil
	case "stdev":
		return metric{full, unitDuration, func(s *Stats, n string) float64 { return hist(s, n).StdDev() }}, nil
	}
	if strings.HasPrefix(stat, "p") {
		p, err := strconv.ParseFloat(stat[1:], 64)
		if err == nil && p > 0 && p <= 100 {
			return metric{full, unitDuration, func(s *Stats, n string) float64 { return float64(hist(s, n).ValueAtPercentile(p)) }}, nil
		}
	}
	return metric{}, fmt.Errorf("unknown metric %q", full)
}

// MetricNames documents the metrics thresholds accept.
const MetricNames = `pN (p50, p99, p99.9, any 0 < N <= 100), mean, min, max, stdev   latency (from the intended start in the open model)
service.pN, service.mean, ...                                   service time (from the actual send)
lag.pN, lag.mean, ...                                           send lag (open model)
error_rate   failed / completed requests            rate      completed requests per second
requests     completed requests                     errors    failed requests
dropped      requests dropped at --max-in-flight    dropped_rate  dropped / scheduled`

func lookupMetric(name string) (metric, error) {
	switch name {
	case "error_rate":
		return metric{name, unitRatio, func(s *Stats, n string) float64 { return s.ErrorRate(n) }}, nil
	case "rate":
		return metric{name, unitRate, func(s *Stats, n string) float64 { return s.Rate(n) }}, nil
	case "requests":
		return metric{name, unitCount, func(s *Stats, n string) float64 { return float64(s.Completed(n)) }}, nil
	case "errors":
		return metric{name, unitCount, func(s *Stats, n string) float64 { return float64(s.Failed(n)) }}, nil
	case "dropped":
		return metric{name, unitCount, func(s *Stats, _ string) float64 { return float64(s.Dropped) }}, nil
	case "dropped_rate":
		return metric{name, unitRatio, func(s *Stats, _ string) float64 {
			if s.Scheduled == 0 {
				return 0
			}
			return float64(s.Dropped) / float64(s.Scheduled)
		}}, nil
	}
	if rest, ok := strings.CutPrefix(name, "service."); ok {
		return histogramMetric("service", (*Stats).Service, rest)
	}
	if rest, ok := strings.CutPrefix(name, "lag."); ok {
		return histogramMetric("lag", func(s *Stats, _ string) *hdrhistogram.Histogram { return s.SendLag }, rest)
	}
	return histogramMetric("", (*Stats).Latency, name)
}

// Threshold is a pass/fail condition on a metric, over the whole run or over
// every sliding window of a given length: "p99<250ms",
// "checkout:p99.9<1s", "error_rate<1%", "p99<250ms over 10s".
type Threshold struct {
	Source  string // as written
	Request string // request name, empty for all requests
	Op      string // <, <=, >, >=, ==, !=
	Value   float64
	Window  time.Duration // 0: over the whole run
	metric  metric
}

// Metric is the name of the threshold's metric.
func (t *Threshold) Metric() string { return t.metric.name }

var operators = []string{"<=", ">=", "==", "!=", "<", ">"}

// ParseThreshold parses one threshold expression.
func ParseThreshold(src string) (*Threshold, error) {
	t := &Threshold{Source: src}
	expr := strings.TrimSpace(src)
	if lhs, rhs, ok := strings.Cut(expr, " over "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rhs))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("threshold %q: window %q: want a positive duration like 10s", src, strings.TrimSpace(rhs))
		}
		t.Window, expr = d, strings.TrimSpace(lhs)
	}
	opAt, op := -1, ""
	for _, o := range operators {
		if i := strings.Index(expr, o); i >= 0 && (opAt < 0 || i < opAt || (i == opAt && len(o) > len(op))) {
			opAt, op = i, o
		}
	}
	if opAt < 0 {
		return nil, fmt.Errorf("threshold %q: no comparison: want METRIC<VALUE like p99<250ms", src)
	}
	left, right := strings.TrimSpace(expr[:opAt]), strings.TrimSpace(expr[opAt+len(op):])
	t.Op = op
	if name, m, ok := strings.Cut(left, ":"); ok {
		t.Request, left = strings.TrimSpace(name), strings.TrimSpace(m)
		if t.Request == "" {
			return nil, fmt.Errorf("threshold %q: empty request name before ':'", src)
		}
	}
	m, err := lookupMetric(left)
	if err != nil {
		return nil, fmt.Errorf("threshold %q: %w; known metrics:\n%s", src, err, MetricNames)
	}
	t.metric = m
	v, err := parseValue(right, m.unit)
	if err != nil {
		return nil, fmt.Errorf("threshold %q: %w", src, err)
	}
	t.Value = v
	return t, nil
}

// parseValue reads a threshold's right-hand side in the metric's unit:
// durations in nanoseconds, ratios as fractions, rates per second.
func parseValue(s string, u unit) (float64, error) {
	if s == "" {
		return 0, errors.New("no value after the comparison")
	}
	switch u {
	case unitDuration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("value %q: want a duration like 250ms", s)
		}
		return float64(d), nil
	case unitRatio:
		if p, ok := strings.CutSuffix(s, "%"); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil {
				return 0, fmt.Errorf("value %q: want a percentage like 1%% or a fraction like 0.01", s)
			}
			return v / 100, nil
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v > 1 {
			return 0, fmt.Errorf("value %q: want a percentage like 1%% or a fraction like 0.01", s)
		}
		return v, nil
	case unitRate:
		if strings.Contains(s, "/") {
			return ParseRate(s)
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("value %q: want a rate like 500/s", s)
		}
		return v, nil
	default:
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("value %q: want a number", s)
		}
		return v, nil
	}
}

func (t *Threshold) holds(v float64) bool {
	switch t.Op {
	case "<":
		return v < t.Value
	case "<=":
		return v <= t.Value
	case ">":
		return v > t.Value
	case ">=":
		return v >= t.Value
	case "==":
		return v == t.Value
	default:
		return v != t.Value
	}
}

// worse reports whether a is further from holding than b, to keep the worst
// window's value.
func (t *Threshold) worse(a, b float64) bool {
	if t.Op == ">" || t.Op == ">=" {
		return a < b
	}
	return a > b
}

// Format prints a value in the threshold's unit.
func (t *Threshold) Format(v float64) string { return formatValue(v, t.metric.unit) }

func formatValue(v float64, u unit) string {
	switch u {
	case unitDuration:
		return FormatDuration(time.Duration(math.Round(v)))
	case unitRatio:
		return strconv.FormatFloat(v*100, 'f', -1, 64) + "%"
	case unitRate:
		return strconv.FormatFloat(v, 'f', 1, 64) + "/s"
	default:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
}

// FormatDuration prints d with three significant digits in a unit that suits
// it: 850µs, 12.3ms, 1.25s.
func FormatDuration(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return trimFloat(float64(d)/float64(time.Microsecond)) + "µs"
	case d < time.Second:
		return trimFloat(float64(d)/float64(time.Millisecond)) + "ms"
	default:
		return trimFloat(d.Seconds()) + "s"
	}
}

func trimFloat(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// ThresholdResult is a threshold's verdict.
type ThresholdResult struct {
	Threshold *Threshold
	Held      bool
	// Value is the measured value over the run, or the worst window's.
	Value float64
	// WorstWindowEnd is the end of the worst window (windowed thresholds).
	WorstWindowEnd time.Time
	// NoData is set when nothing was measured for the request name.
	NoData bool
}

// String is the one-line verdict printed after a run.
func (r ThresholdResult) String() string {
	verdict := "held  "
	if !r.Held {
		verdict = "FAILED"
	}
	t := r.Threshold
	what := t.metric.name
	if t.Request != "" {
		what = t.Request + ":" + what
	}
	if r.NoData {
		if t.Request != "" {
			return fmt.Sprintf("%s  %s  (no requests named %q completed)", verdict, t.Source, t.Request)
		}
		return fmt.Sprintf("%s  %s  (no requests completed)", verdict, t.Source)
	}
	if t.Window > 0 {
		return fmt.Sprintf("%s  %s  (worst %s window: %s = %s)", verdict, t.Source, t.Window, what, t.Format(r.Value))
	}
	return fmt.Sprintf("%s  %s  (%s = %s)", verdict, t.Source, what, t.Format(r.Value))
}

// Evaluator checks thresholds as intervals arrive: whole-run thresholds at
// the end, windowed ones on every window of their length, ending at each
// interval boundary. It keeps only as many intervals as the longest window
// needs, so memory does not grow with the run.
type Evaluator struct {
	thresholds []*Threshold
	window     []*Stats // the most recent intervals, oldest first
	keep       time.Duration
	worst      []ThresholdResult
	seen       []bool
}

// NewEvaluator prepares the given thresholds.
func NewEvaluator(ts []*Threshold) *Evaluator {
	ev := &Evaluator{thresholds: ts, worst: make([]ThresholdResult, len(ts)), seen: make([]bool, len(ts))}
	for i, t := range ts {
		ev.worst[i] = ThresholdResult{Threshold: t, Held: true}
		ev.keep = max(ev.keep, t.Window)
	}
	return ev
}

// Observe takes the next interval.
func (ev *Evaluator) Observe(iv *Stats) {
	if ev.keep == 0 {
		return
	}
	// Interval boundaries jitter by the collector's timer, so a window is
	// "full" within a little slack.
	slack := min(100*time.Millisecond, iv.Duration()/2)
	ev.window = append(ev.window, iv)
	for len(ev.window) > 1 && iv.End.Sub(ev.window[0].Start) > ev.keep+slack {
		ev.window = ev.window[1:]
	}
	for i, t := range ev.thresholds {
		if t.Window == 0 {
			continue
		}
		w := NewStats(time.Time{}, time.Time{})
		for _, p := range ev.window {
			if iv.End.Sub(p.Start) <= t.Window+slack {
				w.Merge(p)
			}
		}
		if w.Start.IsZero() || iv.End.Sub(w.Start) < t.Window-slack {
			continue // the run is not a whole window long yet
		}
		ev.judge(i, t, w)
	}
}

func (ev *Evaluator) judge(i int, t *Threshold, s *Stats) {
	if t.metric.unit != unitCount && t.metric.unit != unitRate && s.Completed(t.Request) == 0 {
		return // nothing measured: no verdict from this span
	}
	v := t.metric.eval(s, t.Request)
	r := &ev.worst[i]
	if !ev.seen[i] || t.worse(v, r.Value) {
		r.Value = v
		r.WorstWindowEnd = s.End
	}
	ev.seen[i] = true
	if !t.holds(v) {
		r.Held = false
	}
}

// Results judges the whole-run thresholds on total and returns every
// verdict. A windowed threshold whose run was shorter than its window is
// judged on the whole run.
func (ev *Evaluator) Results(total *Stats) []ThresholdResult {
	out := make([]ThresholdResult, len(ev.thresholds))
	for i, t := range ev.thresholds {
		if t.Window == 0 || !ev.seen[i] {
			ev.judge(i, t, total)
		}
		out[i] = ev.worst[i]
		if !ev.seen[i] {
			out[i].NoData, out[i].Held = true, false
		}
	}
	return out
}

// AllHeld reports whether every result held.
func AllHeld(rs []ThresholdResult) bool {
	for _, r := range rs {
		if !r.Held {
			return false
		}
	}
	return true
}
