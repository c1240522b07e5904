// Package compare judges the change between two runs against the noise of
// each: every metric of the shared vocabulary (internal/metric), per phase
// and request name, with a bootstrap interval over whole intervals
// (internal/statistics). It also parses and judges the regression gates
// on a comparison (gate.go) and writes a comparison as text, Markdown or
// JSON (write.go).
package compare

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"github.com/faultline-dev/faultline/internal/metric"
	"github.com/faultline-dev/faultline/internal/statistics"
	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report"
	"github.com/faultline-dev/faultline/report/internal/hdr"
)

// shownMetrics are the figures a comparison shows for every request name,
// in order.
var shownMetrics = []string{"p50", "p90", "p99", "p99.9", "p99.99", "max", "mean", "error_rate", "rate"}

// Options tune the noise estimate. The zero value uses the defaults.
type Options struct {
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

func (o Options) withDefaults() Options {
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
	Rows       []Row
	// Names lists the request names of either run, sorted.
	Names []string
}

// Row is one metric of one request name (empty for every
// request) in one phase. Latency figures are in nanoseconds, rates per
// second, error rates fractions.
type Row struct {
	Phase, Request, Metric string
	Base, New              float64
	// Change is New - Base; Relative is Change / Base (±Inf when Base is 0
	// and New is not, 0 when both are).
	Change, Relative float64
	// Judged says whether the noise could be estimated; when it could, Low
	// and High bound Change at the comparison's confidence, and Beyond
	// says whether that interval excludes zero. RelativeLow and
	// RelativeHigh bound Relative: they come from the bootstrap of the
	// relative change itself (each resample's change over that resample's
	// base), so a latency's never falls below -100%; Low / Base does.
	Judged                    bool
	Low, High                 float64
	RelativeLow, RelativeHigh float64
	Beyond                    bool
	// Note says why the noise was not judged.
	Note string
}

// Noise is the row's verdict on the noise in words.
func (r Row) Noise() string {
	switch {
	case !r.Judged:
		return r.Note
	case r.Beyond:
		return "beyond noise"
	default:
		return "within noise"
	}
}

// compareMetric finds a metric of the vocabulary a comparison can show.
func compareMetric(name string) (metric.Metric, error) {
	m, err := metric.LookupMeasured(name)
	if err != nil {
		return m, fmt.Errorf("%w; known metrics:\n%s", err, metric.Names)
	}
	return m, nil
}

// Runs computes the change of every metric from base to next, for every
// phase the two runs share (the whole runs when they share none) and every
// request name, and estimates the noise of each change by a bootstrap over
// intervals: see docs/reports.md. extra adds metrics to shownMetrics (for
// gates on, say, p95).
func Runs(base, next *report.Run, extra []string, opts Options) (*Comparison, error) {
	opts = opts.withDefaults()
	metrics := slices.Clone(shownMetrics)
	for _, m := range extra {
		if _, err := compareMetric(m); err != nil {
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

	var needs [histograms]bool
	for _, name := range metrics {
		if m, _ := compareMetric(name); m.Histogram != metric.None {
			needs[m.Histogram-1] = true
		}
	}
	// A pair compares a phase of base (index b, -1 for the whole run) with
	// one of next (n).
	type pair struct {
		phase string
		b, n  int
	}
	var pairs []pair
	for i, p := range base.Phases {
		if j := slices.IndexFunc(next.Phases, func(q report.Phase) bool { return q.Name == p.Name }); j >= 0 {
			pairs = append(pairs, pair{p.Name, i, j})
		}
	}
	if len(pairs) == 0 {
		pairs = []pair{{"run", -1, -1}}
	}
	var bGroups, nGroups []int
	for _, pr := range pairs {
		bGroups, nGroups = append(bGroups, pr.b), append(nGroups, pr.n)
	}
	baseBlocks, err := runBlocks(base, bGroups, requests, opts.MaxBlocks, needs)
	if err != nil {
		return nil, err
	}
	nextBlocks, err := runBlocks(next, nGroups, requests, opts.MaxBlocks, needs)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x5eed))
	for _, pr := range pairs {
		bg, ng := baseBlocks[pr.b], nextBlocks[pr.n]
		for _, req := range requests {
			rows := compareGroup(rng, bg.blocks[req], ng.blocks[req], bg.count, ng.count, req, metrics, opts)
			for k := range rows {
				rows[k].Phase = pr.phase
			}
			cmp.Rows = append(cmp.Rows, rows...)
		}
	}
	return cmp, nil
}

// histograms are the histograms a block keeps, indexed by
// metric.Histogram - 1.
const histograms = 3

// block is one resampling unit of one request name: consecutive
// intervals, their histograms as sparse bins and their counts.
type block struct {
	bins               [histograms][]bin
	completed, failed  int64
	scheduled, dropped int64
	seconds            float64
}

type bin struct {
	slot  int // index into the group's value table
	count int64
}

// binTable maps the histogram counts indexes met in a group to dense slots
// holding each bucket's lowest value, in value order.
type binTable struct {
	slotOf map[int]int
	lowest []int64
}

// histogramOf returns the histogram h of interval iv for request name req.
func histogramOf(iv *report.Interval, h metric.Histogram, req string) hdr.Sparse {
	switch h {
	case metric.Service:
		return iv.Service(req)
	case metric.Lag:
		return iv.SendLag
	}
	return iv.Latency(req)
}

// blockGroup is the blocks of one phase (or of the whole run) of a run,
// per request name, and how many intervals they hold.
type blockGroup struct {
	blocks map[string][]block
	count  int
	per    int // intervals per block
	seen   int
	// counts gathers the bins of each request's last block.
	counts map[string]*[histograms]map[int]int64
}

// runBlocks cuts the intervals of each of groups (a phase index, -1 for
// the whole run) into at most maxBlocks blocks of consecutive intervals,
// as statistics.Blocks does, and turns each into a block per request name
// of reqs, keeping the histograms the metrics read. It reads the run's
// intervals once, so that only the blocks stay in memory. Bins carry raw
// counts indexes until newBinTable maps them to slots.
func runBlocks(run *report.Run, groups []int, reqs []string, maxBlocks int, needs [histograms]bool) (map[int]*blockGroup, error) {
	out := map[int]*blockGroup{}
	for _, g := range groups {
		n := run.IntervalCount()
		if g >= 0 {
			n = run.PhaseIntervalCount(g)
		}
		out[g] = &blockGroup{blocks: map[string][]block{}, count: n, per: max(1, (n+maxBlocks-1)/maxBlocks),
			counts: map[string]*[histograms]map[int]int64{}}
	}
	err := run.EachInterval(func(iv *report.Interval, phase int) error {
		if bg := out[-1]; bg != nil {
			bg.add(iv, reqs, needs)
		}
		if bg := out[phase]; bg != nil && phase >= 0 {
			bg.add(iv, reqs, needs)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, bg := range out {
		bg.close(reqs)
	}
	return out, nil
}

// add puts iv into the group's current block of every request name.
func (bg *blockGroup) add(iv *report.Interval, reqs []string, needs [histograms]bool) {
	if bg.seen%bg.per == 0 {
		bg.close(reqs)
		for _, req := range reqs {
			bg.blocks[req] = append(bg.blocks[req], block{})
			bg.counts[req] = &[histograms]map[int]int64{}
		}
	}
	bg.seen++
	for _, req := range reqs {
		bs := bg.blocks[req]
		b := &bs[len(bs)-1]
		b.completed += iv.Completed(req)
		b.failed += iv.Failed(req)
		b.scheduled += iv.Scheduled
		b.dropped += iv.Dropped
		b.seconds += iv.Duration().Seconds()
		counts := bg.counts[req]
		for k := range histograms {
			if !needs[k] {
				continue
			}
			h := histogramOf(iv, metric.Histogram(k+1), req)
			if h.Total == 0 {
				continue
			}
			if counts[k] == nil {
				counts[k] = map[int]int64{}
			}
			for j, idx := range h.Index {
				counts[k][int(idx)] += h.Counts[j]
			}
		}
	}
}

// close turns the bins gathered for each request's last block into the
// block's sorted bins.
func (bg *blockGroup) close(reqs []string) {
	for _, req := range reqs {
		counts := bg.counts[req]
		bs := bg.blocks[req]
		if counts == nil || len(bs) == 0 {
			continue
		}
		b := &bs[len(bs)-1]
		for k := range histograms {
			for _, idx := range slices.Sorted(maps.Keys(counts[k])) {
				b.bins[k] = append(b.bins[k], bin{slot: idx, count: counts[k][idx]})
			}
		}
		bg.counts[req] = nil
	}
}

// newBinTable gives every counts index met a slot, in value order, so a
// walk over the slots is a walk up the histogram.
func newBinTable(groups ...[]block) *binTable {
	seen := map[int]bool{}
	for _, bs := range groups {
		for _, b := range bs {
			for _, bins := range b.bins {
				for _, x := range bins {
					seen[x.slot] = true
				}
			}
		}
	}
	idxs := slices.Sorted(maps.Keys(seen))
	g := hdr.GeometryOf(loadgen.NewHistogram())
	t := &binTable{slotOf: make(map[int]int, len(idxs)), lowest: make([]int64, len(idxs))}
	for slot, idx := range idxs {
		t.slotOf[idx] = slot
		t.lowest[slot], _ = g.ValueAt(idx)
	}
	for _, bs := range groups {
		for k := range bs {
			for h := range bs[k].bins {
				for j := range bs[k].bins[h] {
					bs[k].bins[h][j].slot = t.slotOf[bs[k].bins[h][j].slot]
				}
			}
		}
	}
	return t
}

// accumulator sums chosen blocks and computes the metrics of the sum.
type accumulator struct {
	table  *binTable
	counts [histograms][]int64
	sums   [histograms]metric.Buckets
	tally  metric.Tally
}

func newAccumulator(t *binTable) *accumulator {
	a := &accumulator{table: t}
	for k := range a.counts {
		a.counts[k] = make([]int64, len(t.lowest))
	}
	return a
}

func (a *accumulator) reset() {
	for k := range a.counts {
		clear(a.counts[k])
	}
	a.tally = metric.Tally{}
}

func (a *accumulator) add(b *block) {
	for k, bins := range b.bins {
		for _, x := range bins {
			a.counts[k][x.slot] += x.count
		}
	}
	a.tally.Completed += b.completed
	a.tally.Failed += b.failed
	a.tally.Scheduled += b.scheduled
	a.tally.Dropped += b.dropped
	a.tally.Seconds += b.seconds
}

// values computes every metric of the sum into out; NaN marks a metric
// without data (latency of no requests, a rate over no time).
func (a *accumulator) values(ms []metric.Metric, out []float64) {
	for k := range a.counts {
		a.sums[k].Reset()
		for slot, c := range a.counts[k] {
			if c != 0 {
				a.sums[k].Append(a.table.lowest[slot], c)
			}
		}
	}
	t := a.tally
	t.Latency, t.Service, t.Lag = &a.sums[0], &a.sums[1], &a.sums[2]
	for i, m := range ms {
		out[i] = m.Of(&t)
	}
}

// total is how many values the sum's histogram h holds.
func (a *accumulator) total(h metric.Histogram) int64 {
	if h == metric.None {
		return 0
	}
	var n int64
	for _, c := range a.counts[h-1] {
		n += c
	}
	return n
}

// compareGroup compares one request name in one phase.
func compareGroup(rng *rand.Rand, baseB, newB []block, nBase, nNew int, req string, metrics []string, opts Options) []Row {
	ms := make([]metric.Metric, len(metrics))
	for i, name := range metrics {
		ms[i], _ = compareMetric(name)
	}
	table := newBinTable(baseB, newB)
	a, b := newAccumulator(table), newAccumulator(table)
	for i := range baseB {
		a.add(&baseB[i])
	}
	for i := range newB {
		b.add(&newB[i])
	}
	rows := pointRows(a, b, ms, req)
	if nBase < opts.MinIntervals || nNew < opts.MinIntervals {
		for i := range rows {
			rows[i].Note = fmt.Sprintf("not judged: %d and %d intervals, fewer than %d", nBase, nNew, opts.MinIntervals)
		}
		return rows
	}
	fewest := func(h metric.Histogram) int64 { return min(a.total(h), b.total(h)) }
	tails := make([]int64, len(ms))
	for i, m := range ms {
		tails[i] = fewest(m.Histogram)
	}
	baseV, newV := make([]float64, len(ms)), make([]float64, len(ms))
	boot := statistics.Bootstrap{Rounds: opts.Resamples, Rand: rng}
	// Each round yields every metric's change, then every metric's
	// relative change.
	diffs := boot.Run([]int{len(baseB), len(newB)}, 2*len(ms), func(picks [][]int, out []float64) {
		a.reset()
		b.reset()
		for _, k := range picks[0] {
			a.add(&baseB[k])
		}
		for _, k := range picks[1] {
			b.add(&newB[k])
		}
		a.values(ms, baseV)
		b.values(ms, newV)
		for i := range ms {
			out[i] = newV[i] - baseV[i]
			if baseV[i] != 0 {
				out[len(ms)+i] = newV[i]/baseV[i] - 1
			}
		}
	})
	for i, m := range ms {
		judgeRow(&rows[i], m, diffs[i], diffs[len(ms)+i], tails[i], opts.Confidence)
	}
	return rows
}

// pointRows are the rows of the sums a (base) and b (new) before any
// resampling: values, change and relative change.
func pointRows(a, b *accumulator, ms []metric.Metric, req string) []Row {
	baseV, newV := make([]float64, len(ms)), make([]float64, len(ms))
	a.values(ms, baseV)
	b.values(ms, newV)
	rows := make([]Row, len(ms))
	for i, m := range ms {
		r := Row{Request: req, Metric: m.Name, Base: baseV[i], New: newV[i]}
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
	return rows
}

// judgeRow bounds a row's change and relative change from their bootstrap
// draws, or says why it cannot: tail is the fewest values either run has
// in the histogram the metric reads.
func judgeRow(r *Row, m metric.Metric, d, rel statistics.Draws, tail int64, confidence float64) {
	switch {
	case math.IsNaN(r.Change) || !d.Enough():
		r.Note = "not judged: no data"
		return
	case m.OneSample():
		// A resampled maximum can never exceed the observed one, so its
		// bootstrap interval says nothing about noise.
		what := "minimum"
		if strings.HasSuffix(m.Name, "max") {
			what = "maximum"
		}
		r.Note = "not judged: a " + what + " is one sample"
		return
	case m.Percentile > 0 && float64(tail)*(100-m.Percentile)/100 < minTailSamples:
		r.Note = fmt.Sprintf("not judged: under %d samples above %s", minTailSamples, m.Name)
		return
	}
	ci := d.Interval(confidence)
	r.Judged = true
	r.Low, r.High = ci.Low, ci.High
	r.Beyond = ci.Excludes(0)
	r.RelativeLow, r.RelativeHigh = math.NaN(), math.NaN()
	if rel.Enough() {
		rci := rel.Interval(confidence)
		r.RelativeLow, r.RelativeHigh = rci.Low, rci.High
	}
}

// minTailSamples is the fewest samples a run must have above a percentile
// for the noise of that percentile to be judged: the bootstrap cannot
// estimate a tail it has barely seen.
const minTailSamples = 5
