package experiments

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/faultline-dev/faultline/internal/metric"
	"github.com/faultline-dev/faultline/internal/statistics"
)

// Verdict is the outcome of one hypothesis line or probe.
type Verdict string

// The verdicts. A comparison with another phase is Held or Deviated only
// when the 95% confidence interval of the difference lies wholly on one
// side; otherwise, and when there are too few samples to tell, it is
// Inconclusive.
const (
	Held         Verdict = "held"
	Deviated     Verdict = "deviated"
	Inconclusive Verdict = "inconclusive"
)

// Judgement is a condition's verdict with the figures behind it.
type Judgement struct {
	Condition string  `json:"condition"`
	Verdict   Verdict `json:"verdict"`
	// Left and Right are the two sides' values in base units
	// (nanoseconds, fractions, per second).
	Left  float64 `json:"left"`
	Right float64 `json:"right"`
	// CILow and CIHigh bound the 95% confidence interval of Left - Right
	// (relative comparisons only).
	CILow  *float64 `json:"ci_low,omitempty"`
	CIHigh *float64 `json:"ci_high,omitempty"`
	// Measured is the left side as printed; Detail explains the verdict.
	Measured string `json:"measured"`
	Detail   string `json:"detail"`
}

// scope is what a condition is judged over.
type scope struct {
	current       []*sample            // the phase or window being judged
	phases        map[string][]*sample // every phase, by name, for PHASE.metric
	timeToRecover float64              // nanoseconds; +Inf when it never recovered, NaN when unknown
	recoveryNote  string               // why timeToRecover is unknown, when it is
	value         float64              // a probe's value
}

func (sc *scope) samplesOf(phase string) []*sample {
	if phase == "" {
		return sc.current
	}
	return sc.phases[phase]
}

// metricValue computes one metric over a multiset of intervals.
func metricValue(ref *refNode, ss []*sample, sc *scope) float64 {
	switch ref.metric {
	case "time_to_recover":
		return sc.timeToRecover
	case "value":
		return sc.value
	}
	return valueOf(ref.m, ref.request, ss)
}

// valueOf computes metric m of one request name ("" for all) over a
// multiset of intervals, summing only the histogram m reads.
func valueOf(m metric.Metric, request string, ss []*sample) float64 {
	var t metric.Tally
	var parts []*metric.Buckets
	for _, s := range ss {
		c := s.byName[request]
		if c != nil {
			t.Completed += c.completed
			t.Failed += c.failed
		}
		t.Scheduled += s.scheduled
		t.Dropped += s.dropped
		t.Seconds += s.seconds()
		t.TargetSeconds += s.targetSeconds
		switch {
		case m.Histogram == metric.Lag:
			parts = append(parts, &s.lag)
		case c != nil && m.Histogram == metric.Service:
			parts = append(parts, &c.service)
		case c != nil && m.Histogram == metric.Latency:
			parts = append(parts, &c.latency)
		}
	}
	if m.Histogram != metric.None {
		sum := metric.Sum(parts)
		t.Latency, t.Service, t.Lag = &sum, &sum, &sum // m reads the one it names
	}
	return m.Of(&t)
}

// eval computes a node, taking each phase's intervals from pick.
func eval(n node, sc *scope, pick func(phase string) []*sample) float64 {
	switch x := n.(type) {
	case *numberNode:
		return x.v
	case *refNode:
		return metricValue(x, pick(x.phase), sc)
	case *negNode:
		return -eval(x.x, sc, pick)
	case *binNode:
		l, r := eval(x.l, sc, pick), eval(x.r, sc, pick)
		switch x.op {
		case '+':
			return l + r
		case '-':
			return l - r
		case '*':
			return l * r
		default:
			return l / r
		}
	}
	return math.NaN()
}

func holds(op string, l, r float64) bool {
	switch op {
	case "<":
		return l < r
	case "<=":
		return l <= r
	case ">":
		return l > r
	case ">=":
		return l >= r
	case "==":
		return l == r
	default:
		return l != r
	}
}

// minSamples is how many requests a percentile needs before it means
// anything: p99 needs 100, p99.9 a thousand.
func minSamples(c *Condition) (need int64, which, request string) {
	for _, r := range c.Refs() {
		if p := r.m.Percentile; p > 0 && p < 100 {
			if n := int64(math.Ceil(1 / (1 - p/100))); n > need {
				need, which, request = n, r.String(), r.request
			}
		}
	}
	return need, which, request
}

// bootstrapRounds is how many resamples a relative comparison draws.
const bootstrapRounds = 400

// minIntervals is the fewest intervals per phase a relative comparison
// needs before its confidence interval means anything.
const minIntervals = 5

// judge decides c over sc. Absolute conditions are judged on their values;
// relative ones (naming another phase) by a block bootstrap: the intervals
// of each phase involved are resampled with replacement, the difference of
// the two sides recomputed each time, and the 2.5th and 97.5th percentiles
// of those differences bound a 95% confidence interval. Resampling whole
// intervals keeps the correlation of requests close in time.
func judge(c *Condition, sc *scope, rng *rand.Rand) Judgement {
	j := Judgement{Condition: c.Source}
	pick := sc.samplesOf
	j.Left, j.Right = eval(c.Left, sc, pick), eval(c.Right, sc, pick)
	j.Measured = c.Left.unit().Format(j.Left)
	if math.IsNaN(j.Left) || math.IsNaN(j.Right) {
		j.Verdict = Inconclusive
		j.Detail = "no data: no request completed in the span judged"
		if c.Left.String() == "time_to_recover" {
			j.Detail = orDefault(sc.recoveryNote, "no fault was reverted while the load still ran, so there is no recovery to judge")
		}
		return j
	}
	if need, which, request := minSamples(c); need > 0 {
		for _, phase := range phasesOf(c) {
			if n := completedIn(pick(phase), request); n < need {
				j.Verdict = Inconclusive
				j.Detail = fmt.Sprintf("%s needs at least %d requests; %s had %d", which, need, phaseLabel(phase), n)
				return j
			}
		}
	}
	pointHeld := holds(c.Op, j.Left, j.Right)
	if !c.Relative() || c.Op == "==" || c.Op == "!=" {
		j.Verdict = Deviated
		if pointHeld {
			j.Verdict = Held
		}
		j.Detail = fmt.Sprintf("%s = %s, %s %s", c.Left, j.Measured, opWord(c.Op, pointHeld), c.Right.unit().Format(j.Right))
		return j
	}
	return judgeRelative(c, sc, rng, j)
}

// judgeRelative decides a comparison between phases by the bootstrap
// judge describes; j holds the point values.
func judgeRelative(c *Condition, sc *scope, rng *rand.Rand, j Judgement) Judgement {
	pick := sc.samplesOf
	phases := phasesOf(c)
	for _, phase := range phases {
		if n := len(pick(phase)); n < minIntervals {
			j.Verdict = Inconclusive
			j.Detail = fmt.Sprintf("%s has %d intervals; a comparison between phases needs at least %d", phaseLabel(phase), n, minIntervals)
			return j
		}
	}
	diffs := bootstrapDifference(c, sc, phases, rng)
	if !diffs.Enough() {
		j.Verdict = Inconclusive
		j.Detail = "too many resamples without data to bound the difference"
		return j
	}
	ci := diffs.Interval(0.95)
	lo, hi := ci.Low, ci.High
	j.CILow, j.CIHigh = &lo, &hi
	switch c.Op {
	case "<":
		j.Verdict = verdictOf(hi < 0, lo >= 0)
	case "<=":
		j.Verdict = verdictOf(hi <= 0, lo > 0)
	case ">":
		j.Verdict = verdictOf(lo > 0, hi <= 0)
	default: // ">="
		j.Verdict = verdictOf(lo >= 0, hi < 0)
	}
	u := c.Left.unit()
	if u == metric.Count {
		u = c.Right.unit()
	}
	j.Detail = fmt.Sprintf("%s = %s against %s = %s: difference %s, 95%% CI [%s, %s]",
		c.Left, j.Measured, c.Right, c.Right.unit().Format(j.Right),
		signed(j.Left-j.Right, u), signed(lo, u), signed(hi, u))
	if j.Verdict == Inconclusive {
		j.Detail += ": the interval straddles the limit, so the data cannot tell"
	}
	return j
}

// bootstrapDifference draws left - right of c over resamples of the
// intervals of each phase it reads, each phase resampled independently.
func bootstrapDifference(c *Condition, sc *scope, phases []string, rng *rand.Rand) statistics.Draws {
	pick := sc.samplesOf
	sizes := make([]int, len(phases))
	for i, phase := range phases {
		sizes[i] = len(pick(phase))
	}
	resampled := map[string][]*sample{}
	rpick := func(phase string) []*sample { return resampled[phase] }
	boot := statistics.Bootstrap{Rounds: bootstrapRounds, Rand: rng}
	return boot.Run(sizes, 1, func(picks [][]int, out []float64) {
		for i, phase := range phases {
			src := pick(phase)
			re := make([]*sample, len(picks[i]))
			for k, idx := range picks[i] {
				re[k] = src[idx]
			}
			resampled[phase] = re
		}
		out[0] = eval(c.Left, sc, rpick) - eval(c.Right, sc, rpick)
	})[0]
}

func verdictOf(held, deviated bool) Verdict {
	switch {
	case held:
		return Held
	case deviated:
		return Deviated
	default:
		return Inconclusive
	}
}

func opWord(op string, held bool) string {
	words := map[string][2]string{
		"<": {"not below", "below"}, "<=": {"above", "at most"}, ">": {"not above", "above"},
		">=": {"below", "at least"}, "==": {"not equal to", "equal to"}, "!=": {"equal to", "not equal to"},
	}
	if held {
		return words[op][1]
	}
	return words[op][0]
}

// phasesOf lists the phases a condition reads ("" for the current one).
func phasesOf(c *Condition) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range c.Refs() {
		if r.metric == "time_to_recover" || r.metric == "value" {
			continue
		}
		if !seen[r.phase] {
			seen[r.phase] = true
			out = append(out, r.phase)
		}
	}
	return out
}

func phaseLabel(phase string) string {
	if phase == "" {
		return "the phase judged"
	}
	return "phase " + phase
}

// completedIn counts the requests of one name ("" for all) that completed.
func completedIn(ss []*sample, request string) int64 {
	var n int64
	for _, s := range ss {
		if c := s.byName[request]; c != nil {
			n += c.completed
		}
	}
	return n
}

func signed(v float64, u metric.Unit) string {
	if v >= 0 {
		return "+" + u.Format(v)
	}
	return "-" + u.Format(-v)
}
