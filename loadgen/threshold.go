package loadgen

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/internal/metric"
)

// tally is what metric m reads of s for one request name: only the
// histogram it needs is merged.
func tally(s *Stats, name string, m metric.Metric) *metric.Tally {
	t := &metric.Tally{
		Completed: s.Completed(name), Failed: s.Failed(name),
		Scheduled: s.Scheduled, Dropped: s.Dropped, Seconds: s.Duration().Seconds(),
	}
	switch m.Histogram {
	case metric.Latency:
		t.Latency = metric.HDR{H: s.Latency(name)}
	case metric.Service:
		t.Service = metric.HDR{H: s.Service(name)}
	case metric.Lag:
		t.Lag = metric.HDR{H: s.SendLag}
	}
	return t
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
	metric  metric.Metric
}

// Metric is the name of the threshold's metric.
func (t *Threshold) Metric() string { return t.metric.Name }

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
	m, err := metric.LookupMeasured(left)
	if err != nil {
		return nil, fmt.Errorf("threshold %q: %w; known metrics:\n%s", src, err, metric.Names)
	}
	t.metric = m
	v, err := parseValue(right, m.Unit)
	if err != nil {
		return nil, fmt.Errorf("threshold %q: %w", src, err)
	}
	t.Value = v
	return t, nil
}

// parseValue reads a threshold's right-hand side in the metric's unit:
// durations in nanoseconds, ratios as fractions, rates per second.
func parseValue(s string, u metric.Unit) (float64, error) {
	if u == metric.Rate && strings.Contains(s, "/") {
		return ParseRate(s)
	}
	return u.Parse(s)
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
func (t *Threshold) Format(v float64) string { return t.metric.Unit.Format(v) }

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
	what := t.metric.Name
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
	if t.metric.Unit != metric.Count && t.metric.Unit != metric.Rate && s.Completed(t.Request) == 0 {
		return // nothing measured: no verdict from this span
	}
	v := t.metric.Of(tally(s, t.Request, t.metric))
	if math.IsNaN(v) {
		return // no value in this span (no send lag in the closed model)
	}
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
