package experiments

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/faultline-dev/faultline/internal/metric"
	"github.com/faultline-dev/faultline/loadgen"
)

// synthetic makes one-second intervals of three request names as a load
// of 900/s hands them to the runner: per name 300 requests a second,
// lognormal around the name's median (sigma 0.5, so a p99 about 3.2 times
// the median), 1% of them failed, and a send lag. It reuses one Stats (the
// archive keeps nothing of it) and records every latency also in one
// histogram of the whole load: the exact merge of every interval.
type synthetic struct {
	st      *loadgen.Stats
	ok, bad []*loadgen.Series
	median  []time.Duration
	rng     *rand.Rand
	whole   *hdrhistogram.Histogram
	next    time.Time
}

func newSynthetic(seed uint64, start time.Time) *synthetic {
	g := &synthetic{st: loadgen.NewStats(start, start), rng: rand.New(rand.NewPCG(seed, 1)), whole: loadgen.NewHistogram(), next: start,
		median: []time.Duration{2 * time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond}}
	for _, name := range []string{"browse", "cart", "checkout"} {
		g.ok = append(g.ok, seriesFor(g.st, name, loadgen.OK))
		g.bad = append(g.bad, seriesFor(g.st, name, loadgen.Error))
	}
	return g
}

// interval is the next interval, its latencies scaled by slower.
func (g *synthetic) interval(slower float64) *loadgen.Stats {
	st := g.st
	st.Start, st.End = g.next, g.next.Add(time.Second)
	g.next = st.End
	st.SendLag.Reset()
	for i := range g.ok {
		for _, se := range []*loadgen.Series{g.ok[i], g.bad[i]} {
			se.Latency.Reset()
			se.Service.Reset()
			clear(se.Status)
			clear(se.Errors)
		}
		for range 300 {
			v := int64(float64(g.median[i]) * slower * math.Exp(0.5*g.rng.NormFloat64()))
			se := g.ok[i]
			if g.rng.IntN(100) == 0 {
				se = g.bad[i]
				se.Errors[loadgen.ErrReset]++
			} else {
				se.Status[200]++
			}
			_ = se.Latency.RecordValue(v)
			_ = se.Service.RecordValue(v * 9 / 10)
			_ = g.whole.RecordValue(v)
			_ = st.SendLag.RecordValue(int64(g.rng.IntN(200_000)))
		}
	}
	st.Scheduled = 900
	return st
}

// retainedEntries counts the histogram buckets an archive's phase keeps,
// the bulk of its memory.
func retainedEntries(blocks []*sample) int {
	n := 0
	for _, b := range blocks {
		n += len(b.lag.Values)
		for _, c := range b.byName {
			n += len(c.latency.Values) + len(c.service.Values)
		}
	}
	return n
}

func planOf(t *testing.T, baseline string, phases map[string][]string) *Plan {
	t.Helper()
	var names []string
	for name := range phases {
		names = append(names, name)
	}
	slices.Sort(names)
	refs := names
	if !slices.Contains(names, "baseline") {
		refs = append([]string{"baseline"}, names...)
	}
	plan := &Plan{Baseline: baseline}
	for _, name := range names {
		p := &Phase{Name: name}
		for _, src := range phases[name] {
			c, err := parseCondition(src, refs)
			if err != nil {
				t.Fatalf("%s: %v", src, err)
			}
			p.Hypotheses = append(p.Hypotheses, c)
		}
		plan.Phases = append(plan.Phases, p)
	}
	return plan
}

// TestArchiveLongPhaseBounded feeds a phase of 20,000 intervals (five and
// a half hours at 1 s) through the archive, as the runner files them: it
// keeps at most maxBlocks blocks, its histograms stop growing with the
// phase (the buckets it keeps after 20,000 intervals are within a quarter
// of those after 10,000, where keeping every interval doubled them), and
// the phase's figures are those of the exact merge of every interval.
func TestArchiveLongPhaseBounded(t *testing.T) {
	t.Parallel()
	start := time.Unix(1000, 0)
	plan := planOf(t, "baseline", map[string][]string{"baseline": {"p99 < 100ms", "p99[checkout] < 200ms"}})
	a := newArchive(plan, &runClock{start: start})
	g := newSynthetic(3, start)
	var at10k int
	const n = 20_000
	for i := 1; i <= n; i++ {
		lastRevert := time.Duration(-1)
		if i > 19_000 {
			lastRevert = 19_000 * time.Second // a fault reverted then
		}
		a.add("baseline", g.interval(1), 900, lastRevert)
		if got := len(a.phase("baseline")); got > maxBlocks {
			t.Fatalf("after %d intervals the archive keeps %d blocks, over %d", i, got, maxBlocks)
		}
		if i == n/2 {
			at10k = retainedEntries(a.phase("baseline"))
		}
	}
	blocks := a.phase("baseline")
	at20k := retainedEntries(blocks)
	t.Logf("%d blocks of %d intervals; buckets kept: %d after 10,000 intervals, %d after 20,000", len(blocks), a.phases["baseline"].width, at10k, at20k)
	if float64(at20k) > 1.25*float64(at10k) {
		t.Errorf("the archive kept %d buckets after 20,000 intervals, %d after 10,000: it grows with the phase", at20k, at10k)
	}
	// Only the histograms a condition reads are kept: the latency of all
	// requests and of checkout, no service time, no send lag.
	for _, b := range blocks {
		if b.lag.Total != 0 || b.byName["cart"].latency.Total != 0 || b.byName[""].service.Total != 0 ||
			b.byName[""].latency.Total == 0 || b.byName["checkout"].latency.Total == 0 {
			t.Fatalf("block at %s keeps the wrong histograms", b.start)
		}
	}
	// The pulses for time_to_recover: only those after the last revert.
	if len(a.recent) != 1000 || len(a.base) != n {
		t.Errorf("pulses: %d recent (want the 1000 after the revert), %d of the baseline (want %d)", len(a.recent), len(a.base), n)
	}

	// Exact: the blocks merge into every interval's latencies.
	var intervals int
	parts := make([]*metric.Buckets, len(blocks))
	for i, b := range blocks {
		intervals += b.intervals
		parts[i] = &b.byName[""].latency
	}
	if intervals != n {
		t.Errorf("the blocks hold %d intervals, want %d", intervals, n)
	}
	want := metric.BucketsOf(g.whole)
	if got := metric.Sum(parts); !reflect.DeepEqual(got, want) {
		t.Errorf("the blocks' latencies merged: %d requests in %d buckets; every interval's: %d in %d", got.Total, len(got.Values), want.Total, len(want.Values))
	}
	for _, m := range []string{"p50", "p99", "p99.9", "max"} {
		if got, w := valueOf(metric.Must(m), "", blocks), want.Percentile(percentileOf(m)); got != w {
			t.Errorf("%s of the phase = %v, of every interval merged %v", m, got, w)
		}
	}
	if got := valueOf(metric.Must("requests"), "", blocks); got != float64(n*900) {
		t.Errorf("requests = %v, want %d", got, n*900)
	}
	if got, w := valueOf(metric.Must("rate"), "", blocks), 900.0; math.Abs(got-w) > 1e-9 {
		t.Errorf("rate = %v, want %v", got, w)
	}
}

func percentileOf(m string) float64 {
	if m == "max" {
		return 100
	}
	return metric.Must(m).Percentile
}

// TestArchiveCompactedVerdicts judges relative hypotheses over phases of
// 300 intervals, which the archive keeps as blocks of 4: a phase twice as
// slow as the baseline deviates from "p99 < 1.5 * baseline.p99", one like
// the baseline holds it, and the same verdicts come from the intervals
// kept one by one.
func TestArchiveCompactedVerdicts(t *testing.T) {
	t.Parallel()
	start := time.Unix(1000, 0)
	hyp := "p99 < 1.5 * baseline.p99"
	plan := planOf(t, "baseline", map[string][]string{"baseline": nil, "same": {hyp}, "slow": {hyp}})
	a := newArchive(plan, &runClock{start: start})
	every := map[string][]*sample{}
	g := newSynthetic(5, start)
	for _, p := range []struct {
		name   string
		slower float64
	}{{"baseline", 1}, {"same", 1}, {"slow", 2}} {
		for range 300 {
			iv := g.interval(p.slower)
			a.add(p.name, iv, 900, -1)
			every[p.name] = append(every[p.name], retained{latency: map[string]bool{"": true}}.sampleOf(iv, 900))
		}
		if w := a.phases[p.name].width; w != 4 {
			t.Fatalf("phase %s: blocks of %d intervals, want 4", p.name, w)
		}
	}
	c := mustCondition(t, hyp, []string{"baseline", "same", "slow"})
	for phase, want := range map[string]Verdict{"same": Held, "slow": Deviated} {
		j := judge(c, &scope{current: a.phase(phase), phases: a.byPhase(), timeToRecover: math.NaN()}, rand.New(rand.NewPCG(1, 2)))
		if j.Verdict != want {
			t.Errorf("%s in %s over blocks: %s (%s), want %s", hyp, phase, j.Verdict, j.Detail, want)
		}
		j = judge(c, &scope{current: every[phase], phases: every, timeToRecover: math.NaN()}, rand.New(rand.NewPCG(1, 2)))
		if j.Verdict != want {
			t.Errorf("%s in %s over every interval: %s (%s), want %s", hyp, phase, j.Verdict, j.Detail, want)
		}
	}
}

// TestArchiveShortPhasesUnchanged: phases of up to maxBlocks intervals are
// kept interval by interval, and every verdict, figure and recovery over
// what the archive keeps is bit for bit the one over every interval with
// every histogram (the judge draws the same resamples).
func TestArchiveShortPhasesUnchanged(t *testing.T) {
	t.Parallel()
	start := time.Unix(1000, 0)
	conds := []string{
		"p99 < 1.5 * baseline.p99", "p50 < baseline.p50", "p99[checkout] > 2 * baseline.p99[cart]",
		"error_rate < baseline.error_rate + 1%", "rate >= 0.95 * baseline.rate", "mean < baseline.mean",
		"p99 < 100ms", "p99.9[browse] < 20ms", "error_rate[cart] < 5%", "rate >= 0.9 * target",
	}
	plan := planOf(t, "warm", map[string][]string{"warm": nil, "fault": conds})
	plan.Abort = []*Condition{mustCondition(t, "service.p99[cart] < 1s", nil), mustCondition(t, "lag.p99 < 1s", nil)}
	a := newArchive(plan, &runClock{start: start})
	every := map[string][]*sample{}
	var pulses []pulse
	g := newSynthetic(7, start)
	for _, p := range []struct {
		name   string
		n      int
		slower float64
	}{{"warm", maxBlocks, 1}, {"fault", 40, 1.6}} {
		for range p.n {
			iv := g.interval(p.slower)
			s := a.add(p.name, iv, 900, -1)
			full := sampleOf(iv, 900)
			every[p.name] = append(every[p.name], full)
			pulses = append(pulses, pulseOf(full, start))
			if s.start != full.start || s.intervals != 1 {
				t.Fatal("the sample for the abort conditions is not the interval")
			}
		}
	}
	every["baseline"] = every["warm"]
	if got := len(a.phase("warm")); got != maxBlocks {
		t.Fatalf("a phase of %d intervals is kept as %d blocks", maxBlocks, got)
	}
	for _, src := range append(conds, "service.p99[cart] < 1s", "lag.p99 < 1s") {
		c := mustCondition(t, src, []string{"baseline", "warm", "fault"})
		got := judge(c, &scope{current: a.phase("fault"), phases: a.byPhase(), timeToRecover: math.NaN()}, rand.New(rand.NewPCG(9, 9)))
		want := judge(c, &scope{current: every["fault"], phases: every, timeToRecover: math.NaN()}, rand.New(rand.NewPCG(9, 9)))
		if g, w := judgementString(got), judgementString(want); g != w {
			t.Errorf("%s: over the archive %s, over every interval %s", src, g, w)
		}
	}
	for _, revert := range []time.Duration{-1, 100 * time.Second, maxBlocks*time.Second + 10*time.Second} {
		got, gotWhy := timeToRecover(a.base, a.phase("warm"), a.recent, revert)
		want, wantWhy := timeToRecover(pulses[:maxBlocks], every["warm"], pulses, revert)
		if math.Float64bits(got) != math.Float64bits(want) || gotWhy != wantWhy {
			t.Errorf("time_to_recover after %s: %v (%s) over the archive, %v (%s) over every interval", revert, got, gotWhy, want, wantWhy)
		}
	}
}

func mustCondition(t *testing.T, src string, phases []string) *Condition {
	t.Helper()
	c, err := parseCondition(src, phases)
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	return c
}

// judgementString has every field of j, floats to the bit.
func judgementString(j Judgement) string {
	bits := func(p *float64) string {
		if p == nil {
			return "nil"
		}
		return fmt.Sprintf("%x", math.Float64bits(*p))
	}
	return fmt.Sprintf("%s %s left %x right %x ci [%s, %s] %q %q", j.Condition, j.Verdict,
		math.Float64bits(j.Left), math.Float64bits(j.Right), bits(j.CILow), bits(j.CIHigh), j.Measured, j.Detail)
}
