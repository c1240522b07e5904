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
	table := newBinTable(baseBlocks, nextBlocks)
	rng := rand.New(rand.NewPCG(opts.Seed, 0x5eed))
	for _, pr := range pairs {
		bg, ng := baseBlocks[pr.b], nextBlocks[pr.n]
		for _, req := range requests {
			rows := compareGroup(rng, table, seriesOf(bg, req, cmp.Names), seriesOf(ng, req, cmp.Names), bg.count, ng.count, req, metrics, opts)
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

// lag is the index of the send lag, which is the run's and not a request
// name's: the blocks keep it once, not once per name.
const lag = int(metric.Lag) - 1

// block is one resampling unit of one request name: consecutive
// intervals, their latency and service-time histograms as sparse bins,
// and their counts. The blocks of every request ("") keep no bins: theirs
// are the sum of the request names' (see series), so a run's buckets are
// kept once rather than twice.
type block struct {
	bins               [histograms]bins
	completed, failed  int64
	scheduled, dropped int64
	seconds            float64
}

// bins are the populated buckets of a histogram, ascending: their
// HdrHistogram counts indexes until newBinTable turns them into slots of
// its table, and their counts: in counts when every one fits in 32 bits
// (8 bytes a bucket), else in wide.
type bins struct {
	slot   []int32
	counts []uint32
	wide   []int64
}

// binTable is every bucket met in a comparison, by slot, in value order:
// each bucket's lowest value.
type binTable struct {
	lowest []int64
}

// histogramOf returns the latency or service-time histogram h of interval
// iv for request name req (the send lag is iv.SendLag, whatever the name).
func histogramOf(iv *report.Interval, h metric.Histogram, req string) hdr.Sparse {
	if h == metric.Service {
		return iv.Service(req)
	}
	return iv.Latency(req)
}

// blockGroup is the blocks of one phase (or of the whole run) of a run,
// per request name, and how many intervals they hold.
type blockGroup struct {
	blocks map[string][]block
	// lag is the send lag of each block, the same for every request name.
	lag   []bins
	count int
	per   int // intervals per block
	seen  int
	// counts gathers the bins of each request's last block, lagCounts
	// those of its send lag.
	counts    map[string]*[histograms]map[int]int64
	lagCounts map[int]int64
}

// runBlocks cuts the intervals of each of groups (a phase index, -1 for
// the whole run) into at most maxBlocks blocks of consecutive intervals,
// as statistics.Blocks does, and turns each into a block per request name
// of reqs, keeping the histograms the metrics read. It reads the run's
// intervals once, so that only the blocks stay in memory.
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
		bg.lag = append(bg.lag, bins{})
		bg.lagCounts = map[int]int64{}
	}
	bg.seen++
	if needs[lag] {
		gather(bg.lagCounts, iv.SendLag)
	}
	for _, req := range reqs {
		bs := bg.blocks[req]
		b := &bs[len(bs)-1]
		b.completed += iv.Completed(req)
		b.failed += iv.Failed(req)
		b.scheduled += iv.Scheduled
		b.dropped += iv.Dropped
		b.seconds += iv.Duration().Seconds()
		if req == "" {
			continue
		}
		counts := bg.counts[req]
		for k := range histograms {
			if !needs[k] || k == lag {
				continue
			}
			if counts[k] == nil {
				counts[k] = map[int]int64{}
			}
			gather(counts[k], histogramOf(iv, metric.Histogram(k+1), req))
		}
	}
}

// gather adds the buckets of h to counts.
func gather(counts map[int]int64, h hdr.Sparse) {
	for j, idx := range h.Index {
		counts[int(idx)] += h.Counts[j]
	}
}

// close turns the bins gathered for each request's last block into the
// block's bins.
func (bg *blockGroup) close(reqs []string) {
	for _, req := range reqs {
		counts := bg.counts[req]
		bs := bg.blocks[req]
		if counts == nil || len(bs) == 0 {
			continue
		}
		b := &bs[len(bs)-1]
		for k := range histograms {
			b.bins[k] = binsOf(counts[k])
		}
		bg.counts[req] = nil
	}
	if bg.lagCounts != nil {
		bg.lag[len(bg.lag)-1] = binsOf(bg.lagCounts)
		bg.lagCounts = nil
	}
}

// binsOf is counts as bins, in slices of exactly their length.
func binsOf(counts map[int]int64) bins {
	if len(counts) == 0 {
		return bins{}
	}
	b := bins{slot: make([]int32, 0, len(counts))}
	narrow := true
	for idx, c := range counts {
		b.slot = append(b.slot, int32(idx))
		narrow = narrow && c <= math.MaxUint32
	}
	slices.Sort(b.slot)
	if narrow {
		b.counts = make([]uint32, len(b.slot))
		for j, idx := range b.slot {
			b.counts[j] = uint32(counts[int(idx)])
		}
	} else {
		b.wide = make([]int64, len(b.slot))
		for j, idx := range b.slot {
			b.wide[j] = counts[int(idx)]
		}
	}
	return b
}

// series is one request name's view of a block group: per block, its
// counts and, per histogram, the bins whose sum is its histogram (the
// request's own, every name's for every request, the group's send lag).
type series struct {
	blocks []block
	parts  [histograms][][]*bins
}

// seriesOf is request req's series in bg; names are every request name.
func seriesOf(bg *blockGroup, req string, names []string) *series {
	s := &series{blocks: bg.blocks[req]}
	for k := range histograms {
		s.parts[k] = make([][]*bins, len(s.blocks))
		for i := range s.blocks {
			switch {
			case k == lag:
				s.parts[k][i] = []*bins{&bg.lag[i]}
			case req != "":
				s.parts[k][i] = []*bins{&s.blocks[i].bins[k]}
			default:
				for _, name := range names {
					s.parts[k][i] = append(s.parts[k][i], &bg.blocks[name][i].bins[k])
				}
			}
		}
	}
	return s
}

// newBinTable gives every counts index met in groups a slot, in value
// order, so a walk over the slots is a walk up the histogram, and turns
// the indexes of every bins into their slots.
func newBinTable(groups ...map[int]*blockGroup) *binTable {
	var all []*bins
	for _, gs := range groups {
		for _, bg := range gs {
			for _, bs := range bg.blocks {
				for i := range bs {
					for k := range bs[i].bins {
						all = append(all, &bs[i].bins[k])
					}
				}
			}
			for i := range bg.lag {
				all = append(all, &bg.lag[i])
			}
		}
	}
	seen := map[int32]bool{}
	for _, b := range all {
		for _, idx := range b.slot {
			seen[idx] = true
		}
	}
	idxs := slices.Sorted(maps.Keys(seen))
	g := hdr.GeometryFor(loadgen.HistLowest, loadgen.HistHighest, loadgen.HistSigFigs)
	t := &binTable{lowest: make([]int64, len(idxs))}
	slotOf := make(map[int32]int32, len(idxs))
	for slot, idx := range idxs {
		slotOf[idx] = int32(slot)
		t.lowest[slot], _ = g.ValueAt(int(idx))
	}
	for _, b := range all {
		for j, idx := range b.slot {
			b.slot[j] = slotOf[idx]
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

// add adds block i of s.
func (a *accumulator) add(s *series, i int) {
	a.addBins(s, i, 1)
	a.addCounts(s, i)
}

// addBins adds the histograms of block i of s times times.
func (a *accumulator) addBins(s *series, i int, times int64) {
	for k := range s.parts {
		sum := a.counts[k]
		for _, p := range s.parts[k][i] {
			if p.wide != nil {
				for j, slot := range p.slot {
					sum[slot] += times * p.wide[j]
				}
				continue
			}
			for j, slot := range p.slot {
				sum[slot] += times * int64(p.counts[j])
			}
		}
	}
}

// resample adds the blocks of s that picks drew: each block's counts once
// a draw, in the order drawn (so that the sums of seconds are those of
// adding the blocks one by one), and its histograms once, times the
// number of draws, which spares the buckets of blocks drawn more than once
// (about a third of the draws) a walk each. times is scratch space, one
// per block, zero before and after.
func (a *accumulator) resample(s *series, picks []int, times []int64) {
	for _, k := range picks {
		times[k]++
		a.addCounts(s, k)
	}
	for k, n := range times {
		if n > 0 {
			a.addBins(s, k, n)
			times[k] = 0
		}
	}
}

// addCounts adds the counts of block i of s.
func (a *accumulator) addCounts(s *series, i int) {
	b := &s.blocks[i]
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
func compareGroup(rng *rand.Rand, table *binTable, baseS, newS *series, nBase, nNew int, req string, metrics []string, opts Options) []Row {
	ms := make([]metric.Metric, len(metrics))
	for i, name := range metrics {
		ms[i], _ = compareMetric(name)
	}
	a, b := newAccumulator(table), newAccumulator(table)
	for i := range baseS.blocks {
		a.add(baseS, i)
	}
	for i := range newS.blocks {
		b.add(newS, i)
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
	baseTimes, newTimes := make([]int64, len(baseS.blocks)), make([]int64, len(newS.blocks))
	// Each round yields every metric's change, then every metric's
	// relative change.
	diffs := boot.Run([]int{len(baseS.blocks), len(newS.blocks)}, 2*len(ms), func(picks [][]int, out []float64) {
		a.reset()
		b.reset()
		a.resample(baseS, picks[0], baseTimes)
		b.resample(newS, picks[1], newTimes)
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
