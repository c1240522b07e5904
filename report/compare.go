package report

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/internal/statistics"
	"github.com/faultline-dev/faultline/loadgen"
)

// CompareMetrics are the figures a comparison shows for every request name,
// in order.
var CompareMetrics = []string{"p50", "p90", "p99", "p99.9", "p99.99", "max", "mean", "error_rate", "rate"}

// CompareOptions tune the noise estimate. The zero value uses the defaults.
type CompareOptions struct {
	// Resamples is the number of bootstrap resamples (default 1000).
	Resamples int
	// Confidence is the coverage of the interval of each difference
	// (default 0.95).
	Confidence float64
	// MinIntervals is the fewest intervals each run needs for the noise to
	// be judged at all (default 5).
	MinIntervals int
	// MaxBlocks caps the resampled units: longer runs are cut into this
	// many blocks of consecutive intervals (default 100).
	MaxBlocks int
	// Seed makes the resampling, and so the report, reproducible.
	Seed uint64
}

func (o CompareOptions) withDefaults() CompareOptions {
	if o.Resamples <= 0 {
		o.Resamples = 1000
	}
	if o.Confidence <= 0 || o.Confidence >= 1 {
		o.Confidence = 0.95
	}
	if o.MinIntervals <= 0 {
		o.MinIntervals = 5
	}
	if o.MaxBlocks <= 0 {
		o.MaxBlocks = 100
	}
	return o
}

// Comparison is the change from a base run to a new one, per phase,
// request name and metric.
type Comparison struct {
	Resamples  int
	Confidence float64
	Rows       []ComparisonRow
	// Names lists the request names of either run, sorted.
	Names []string
}

// ComparisonRow is one metric of one request name (empty for every
// request) in one phase. Latency figures are in nanoseconds, rates per
// second, error rates fractions.
type ComparisonRow struct {
	Phase, Request, Metric string
	Base, New              float64
	// Change is New - Base; Relative is Change / Base (±Inf when Base is 0
	// and New is not, 0 when both are).
	Change, Relative float64
	// Judged says whether the noise could be estimated; when it could, Low
	// and High bound Change at the comparison's confidence, and Beyond
	// says whether that interval excludes zero.
	Judged    bool
	Low, High float64
	Beyond    bool
	// Note says why the noise was not judged.
	Note string
}

// Noise is the row's verdict on the noise in words.
func (r ComparisonRow) Noise() string {
	switch {
	case !r.Judged:
		return r.Note
	case r.Beyond:
		return "beyond noise"
	default:
		return "within noise"
	}
}

// metricKind says what unit a comparison metric has.
type metricKind int

const (
	kindLatency metricKind = iota
	kindRate
	kindErrorRate
)

// compareMetric parses a metric name: pN, max, mean, rate or error_rate.
func compareMetric(name string) (kind metricKind, percentile float64, err error) {
	switch name {
	case "max", "mean":
		return kindLatency, 0, nil
	case "rate":
		return kindRate, 0, nil
	case "error_rate":
		return kindErrorRate, 0, nil
	}
	if rest, ok := strings.CutPrefix(name, "p"); ok {
		p, err := strconv.ParseFloat(rest, 64)
		if err == nil && p > 0 && p <= 100 {
			return kindLatency, p, nil
		}
	}
	return 0, 0, fmt.Errorf("unknown metric %q: want pN (0 < N <= 100), max, mean, rate or error_rate", name)
}

// Compare computes the change of every metric from base to next, for every
// phase the two runs share (the whole runs when they share none) and every
// request name, and estimates the noise of each change by a bootstrap over
// intervals: see docs/reports.md. extra adds metrics to CompareMetrics (for
// gates on, say, p95).
func Compare(base, next *Run, extra []string, opts CompareOptions) (*Comparison, error) {
	opts = opts.withDefaults()
	metrics := slices.Clone(CompareMetrics)
	for _, m := range extra {
		if _, _, err := compareMetric(m); err != nil {
			return nil, err
		}
		if !slices.Contains(metrics, m) {
			metrics = append(metrics, m)
		}
	}
	cmp := &Comparison{Resamples: opts.Resamples, Confidence: opts.Confidence}
	names := map[string]bool{}
	for _, n := range base.Names() {
		names[n] = true
	}
	for _, n := range next.Names() {
		names[n] = true
	}
	for n := range names {
		cmp.Names = append(cmp.Names, n)
	}
	sort.Strings(cmp.Names)
	requests := append([]string{""}, cmp.Names...)

	type pair struct {
		phase     string
		base, new []*loadgen.Stats
	}
	var pairs []pair
	for i, p := range base.Phases {
		if j := slices.IndexFunc(next.Phases, func(q Phase) bool { return q.Name == p.Name }); j >= 0 {
			pairs = append(pairs, pair{p.Name, base.PhaseIntervals(i), next.PhaseIntervals(j)})
		}
	}
	if len(pairs) == 0 {
		pairs = []pair{{"run", base.Intervals, next.Intervals}}
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x5eed))
	for _, pr := range pairs {
		for _, req := range requests {
			rows := compareGroup(rng, pr.base, pr.new, req, metrics, opts)
			for k := range rows {
				rows[k].Phase = pr.phase
			}
			cmp.Rows = append(cmp.Rows, rows...)
		}
	}
	return cmp, nil
}

// sample is one resampling unit of one request name: a block of
// consecutive intervals, its latency histogram as sparse bins and its
// counts.
type sample struct {
	bins      []sampleBin
	completed int64
	failed    int64
	seconds   float64
}

type sampleBin struct {
	slot  int // index into the group's value tables
	count int64
}

// binTable maps the histogram counts indexes met in a group to dense slots
// holding the values HdrHistogram reports for them.
type binTable struct {
	slotOf  map[int]int
	highest []float64 // the value percentiles and max report
	median  []float64 // the value the mean weighs
}

// buildSamples cuts intervals into at most maxBlocks blocks of consecutive
// intervals and turns each into a sample of request name req. Bins carry
// raw counts indexes until newBinTable maps them to slots.
func buildSamples(ivs []*loadgen.Stats, req string, maxBlocks int) []sample {
	if len(ivs) == 0 {
		return nil
	}
	var out []sample
	for _, block := range statistics.Blocks(ivs, maxBlocks) {
		var s sample
		counts := map[int]int64{}
		for _, iv := range block {
			s.completed += iv.Completed(req)
			s.failed += iv.Failed(req)
			s.seconds += iv.Duration().Seconds()
			h := iv.Latency(req)
			if h.TotalCount() == 0 {
				continue
			}
			for idx, c := range h.Export().Counts {
				if c != 0 {
					counts[idx] += c
				}
			}
		}
		idxs := make([]int, 0, len(counts))
		for idx := range counts {
			idxs = append(idxs, idx)
		}
		sort.Ints(idxs)
		for _, idx := range idxs {
			s.bins = append(s.bins, sampleBin{slot: idx, count: counts[idx]})
		}
		out = append(out, s)
	}
	return out
}

// newBinTable gives every counts index met a slot, in value order, so a
// walk over the slots is a walk up the histogram.
func newBinTable(samples ...[]sample) *binTable {
	seen := map[int]bool{}
	for _, ss := range samples {
		for _, s := range ss {
			for _, b := range s.bins {
				seen[b.slot] = true
			}
		}
	}
	idxs := make([]int, 0, len(seen))
	for idx := range seen {
		idxs = append(idxs, idx)
	}
	sort.Ints(idxs)
	g := newGeometry(loadgen.NewHistogram())
	t := &binTable{slotOf: make(map[int]int, len(idxs)), highest: make([]float64, len(idxs)), median: make([]float64, len(idxs))}
	for slot, idx := range idxs {
		v, w := g.valueAt(idx)
		t.slotOf[idx] = slot
		t.highest[slot] = float64(v + w - 1)
		t.median[slot] = float64(v + w/2)
	}
	for _, ss := range samples {
		for k := range ss {
			for j := range ss[k].bins {
				ss[k].bins[j].slot = t.slotOf[ss[k].bins[j].slot]
			}
		}
	}
	return t
}

// accumulator sums chosen samples and computes the metrics of the sum.
type accumulator struct {
	table     *binTable
	counts    []int64
	total     int64
	completed int64
	failed    int64
	seconds   float64
}

func (a *accumulator) reset() {
	clear(a.counts)
	a.total, a.completed, a.failed, a.seconds = 0, 0, 0, 0
}

func (a *accumulator) add(s *sample) {
	for _, b := range s.bins {
		a.counts[b.slot] += b.count
		a.total += b.count
	}
	a.completed += s.completed
	a.failed += s.failed
	a.seconds += s.seconds
}

// metricSpec is a parsed metric.
type metricSpec struct {
	kind       metricKind
	percentile float64 // 0 for max and mean
	name       string
}

// values computes every metric of the sum; NaN marks a metric without
// data (latency of no requests, a rate over no time). Percentiles follow
// HdrHistogram's ValueAtPercentile: the highest value equivalent to the bin
// where the cumulative count reaches round(p% of total), at least 1.
func (a *accumulator) values(specs []metricSpec, out []float64) {
	type target struct {
		rank int64
		out  int
	}
	var targets []target
	for i, m := range specs {
		out[i] = math.NaN()
		switch {
		case m.kind == kindRate:
			if a.seconds > 0 {
				out[i] = float64(a.completed) / a.seconds
			}
		case m.kind == kindErrorRate:
			if a.completed > 0 {
				out[i] = float64(a.failed) / float64(a.completed)
			}
		case a.total > 0 && m.percentile > 0:
			targets = append(targets, target{percentileRank(m.percentile, a.total), i})
		}
	}
	if a.total == 0 {
		return
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].rank < targets[j].rank })
	var mean float64
	var cum int64
	maxSlot, next := 0, 0
	for slot, c := range a.counts {
		if c == 0 {
			continue
		}
		cum += c
		mean += float64(c) * a.table.median[slot]
		maxSlot = slot
		for next < len(targets) && targets[next].rank <= cum {
			out[targets[next].out] = a.table.highest[slot]
			next++
		}
	}
	for i, m := range specs {
		switch m.name {
		case "max":
			out[i] = a.table.highest[maxSlot]
		case "mean":
			out[i] = mean / float64(a.total)
		}
	}
}

// percentileRank is the count HdrHistogram's ValueAtPercentile looks for.
func percentileRank(p float64, total int64) int64 {
	rank := p/100*float64(total) + 0.5
	if rank < 1 {
		return 1
	}
	if rank >= float64(total) {
		return total
	}
	return int64(rank)
}

// compareGroup compares one request name in one phase.
func compareGroup(rng *rand.Rand, baseIvs, newIvs []*loadgen.Stats, req string, metrics []string, opts CompareOptions) []ComparisonRow {
	specs := make([]metricSpec, len(metrics))
	for i, m := range metrics {
		kind, p, _ := compareMetric(m)
		specs[i] = metricSpec{kind: kind, percentile: p, name: m}
	}
	baseS := buildSamples(baseIvs, req, opts.MaxBlocks)
	newS := buildSamples(newIvs, req, opts.MaxBlocks)
	table := newBinTable(baseS, newS)
	acc := func() *accumulator { return &accumulator{table: table, counts: make([]int64, len(table.highest))} }
	a, b := acc(), acc()
	baseV, newV := make([]float64, len(specs)), make([]float64, len(specs))
	for i := range baseS {
		a.add(&baseS[i])
	}
	for i := range newS {
		b.add(&newS[i])
	}
	a.values(specs, baseV)
	b.values(specs, newV)
	baseTotal, newTotal := a.total, b.total

	rows := make([]ComparisonRow, len(specs))
	for i, m := range specs {
		r := ComparisonRow{Request: req, Metric: m.name, Base: baseV[i], New: newV[i]}
		r.Change = r.New - r.Base
		switch {
		case math.IsNaN(r.Change):
		case r.Change == 0:
			r.Relative = 0
		case r.Base == 0:
			r.Relative = math.Inf(int(math.Copysign(1, r.Change)))
		default:
			r.Relative = r.Change / r.Base
		}
		rows[i] = r
	}
	enough := len(baseIvs) >= opts.MinIntervals && len(newIvs) >= opts.MinIntervals
	if !enough {
		for i := range rows {
			rows[i].Note = fmt.Sprintf("not judged: %d and %d intervals, fewer than %d", len(baseIvs), len(newIvs), opts.MinIntervals)
		}
		return rows
	}
	boot := statistics.Bootstrap{Rounds: opts.Resamples, Rand: rng}
	diffs := boot.Run([]int{len(baseS), len(newS)}, len(specs), func(picks [][]int, out []float64) {
		a.reset()
		b.reset()
		for _, k := range picks[0] {
			a.add(&baseS[k])
		}
		for _, k := range picks[1] {
			b.add(&newS[k])
		}
		a.values(specs, baseV)
		b.values(specs, newV)
		for i := range specs {
			out[i] = newV[i] - baseV[i]
		}
	})
	fewest := min(baseTotal, newTotal)
	for i, m := range specs {
		switch {
		case math.IsNaN(rows[i].Change) || !diffs[i].Enough():
			rows[i].Note = "not judged: no data"
			continue
		case m.name == "max":
			// A resampled maximum can never exceed the observed one, so its
			// bootstrap interval says nothing about noise.
			rows[i].Note = "not judged: a maximum is one sample"
			continue
		case m.percentile > 0 && float64(fewest)*(100-m.percentile)/100 < minTailSamples:
			rows[i].Note = fmt.Sprintf("not judged: under %d samples above %s", minTailSamples, m.name)
			continue
		}
		ci := diffs[i].Interval(opts.Confidence)
		rows[i].Judged = true
		rows[i].Low, rows[i].High = ci.Low, ci.High
		rows[i].Beyond = ci.Excludes(0)
	}
	return rows
}

// minTailSamples is the fewest samples a run must have above a percentile
// for the noise of that percentile to be judged: the bootstrap cannot
// estimate a tail it has barely seen.
const minTailSamples = 5
