package compare

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report"
	"github.com/faultline-dev/faultline/report/internal/fixture"
)

// loadShaped wraps intervals in a Run with one "load" phase.
func loadShaped(ivs []*loadgen.Stats) *report.Run {
	start, end := ivs[0].Start, ivs[len(ivs)-1].End
	return &report.Run{Title: "synthetic", Model: loadgen.Open, Start: start, End: end, Intervals: ivs,
		Phases: []report.Phase{{Name: report.LoadPhase, Start: start, End: end}}}
}

func steadyRun(seed uint64, n int, medianNs float64, failEach int) *report.Run {
	return loadShaped(fixture.Stats(seed, fixture.Start, n, func(int) fixture.Spec {
		return fixture.Spec{Names: []string{"GET /a", "GET /b"}, PerName: 300, MedianNs: medianNs, Sigma: 0.5, FailEach: failEach}
	}))
}

func compareRow(t *testing.T, c *Comparison, request, metric string) Row {
	t.Helper()
	for _, r := range c.Rows {
		if r.Request == request && r.Metric == metric {
			return r
		}
	}
	t.Fatalf("no row for %q %s", request, metric)
	return Row{}
}

// TestCompareSameDistributionIsNoise compares two runs drawn from one
// distribution with different seeds: no change of a percentile, the mean or
// the rates may be called beyond noise.
func TestCompareSameDistributionIsNoise(t *testing.T) {
	t.Parallel()
	for _, seeds := range [][2]uint64{{1, 2}, {3, 4}, {5, 6}} {
		base, next := steadyRun(seeds[0], 20, 5e6, 50), steadyRun(seeds[1], 20, 5e6, 50)
		c, err := Runs(base, next, nil, Options{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range c.Rows {
			// 6000 (or 12000) samples: too few above p99.99 to judge it,
			// and a maximum is never judged.
			wantJudged := r.Metric != "max" && r.Metric != "p99.99"
			if r.Judged != wantJudged {
				t.Errorf("seeds %v: %q %s judged %v (%s), want %v", seeds, r.Request, r.Metric, r.Judged, r.Note, wantJudged)
			}
			if r.Beyond {
				t.Errorf("seeds %v: %q %s: %s -> %s, interval %v..%v called beyond noise", seeds, r.Request, r.Metric,
					formatMetric(r.Metric, r.Base), formatMetric(r.Metric, r.New), r.Low, r.High)
			}
			if r.Judged && (r.Low > r.Change || r.High < r.Change) {
				t.Errorf("seeds %v: %q %s: the change %v lies outside its interval %v..%v", seeds, r.Request, r.Metric, r.Change, r.Low, r.High)
			}
		}
	}
}

// TestCompareShiftIsBeyondNoise slows every request by 30%: every
// percentile of every request must rise beyond noise, by about 30%.
func TestCompareShiftIsBeyondNoise(t *testing.T) {
	t.Parallel()
	base, next := steadyRun(1, 20, 5e6, 0), steadyRun(2, 20, 6.5e6, 0)
	c, err := Runs(base, next, nil, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []string{"", "GET /a", "GET /b"} {
		for _, m := range []string{"p50", "p90", "p99", "mean"} {
			r := compareRow(t, c, req, m)
			if !r.Beyond || r.Low <= 0 {
				t.Errorf("%q %s: %v -> %v, interval %v..%v: want beyond noise", req, m, r.Base, r.New, r.Low, r.High)
			}
			if math.Abs(r.Relative-0.3) > 0.12 {
				t.Errorf("%q %s: relative change %.3f, want about +0.30", req, m, r.Relative)
			}
		}
		if r := compareRow(t, c, req, "rate"); r.Beyond || r.Change != 0 {
			t.Errorf("%q rate: %+v, want no change", req, r)
		}
	}
}

func TestCompareErrorRate(t *testing.T) {
	t.Parallel()
	base, next := steadyRun(1, 20, 5e6, 0), steadyRun(2, 20, 5e6, 10)
	c, err := Runs(base, next, nil, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	r := compareRow(t, c, "", "error_rate")
	if r.Base != 0 || r.New != 0.1 || !r.Beyond || !math.IsInf(r.Relative, 1) {
		t.Errorf("error_rate row %+v", r)
	}
	if got := r.changeString(); got != "+10pp" {
		t.Errorf("change %q", got)
	}
}

func TestCompareTooFewIntervals(t *testing.T) {
	t.Parallel()
	base, next := steadyRun(1, 3, 5e6, 0), steadyRun(2, 3, 50e6, 0)
	c, err := Runs(base, next, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := compareRow(t, c, "", "p50")
	if r.Judged || !strings.Contains(r.Note, "fewer than 5") {
		t.Errorf("row %+v", r)
	}
	// Where the noise cannot be judged, crossing the limit decides alone.
	g, _ := ParseGate("p50:+10%")
	res, err := JudgeGates(c, []*Gate{g})
	if err != nil || len(res) != 1 || !res[0].Failed {
		t.Errorf("gate %+v, %v", res, err)
	}
}

// TestCompareMatchesHistograms checks that the comparison's own percentile
// walk gives exactly what HdrHistogram gives for the merged histograms.
func TestCompareMatchesHistograms(t *testing.T) {
	t.Parallel()
	base, next := steadyRun(1, 8, 5e6, 20), steadyRun(2, 8, 7e6, 0)
	c, err := Runs(base, next, []string{"p95", "p12.5"}, Options{Resamples: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []string{"", "GET /b"} {
		h := base.Total().Latency(req)
		for m, want := range map[string]float64{
			"p50": float64(h.ValueAtPercentile(50)), "p95": float64(h.ValueAtPercentile(95)), "p12.5": float64(h.ValueAtPercentile(12.5)),
			"p99.99": float64(h.ValueAtPercentile(99.99)), "max": float64(h.Max()), "mean": h.Mean(),
		} {
			if got := compareRow(t, c, req, m).Base; math.Abs(got-want) > 1e-6*want {
				t.Errorf("%q %s: %v, HdrHistogram says %v", req, m, got, want)
			}
		}
	}
	if r := compareRow(t, c, "", "rate"); r.Base != 600 {
		t.Errorf("rate %v, want 600/s", r.Base)
	}
	if r := compareRow(t, c, "", "error_rate"); r.Base != 0.05 {
		t.Errorf("error rate %v, want 0.05", r.Base)
	}
}

func TestCompareLongRunsAreBlocked(t *testing.T) {
	t.Parallel()
	ivs := fixture.Stats(9, fixture.Start, 250, func(int) fixture.Spec {
		return fixture.Spec{Names: []string{"x"}, PerName: 20, MedianNs: 1e6, Sigma: 0.3}
	})
	groups, err := runBlocks(loadShaped(ivs), []int{-1}, []string{""}, 100, [histograms]bool{true})
	if err != nil {
		t.Fatal(err)
	}
	blocks := groups[-1].blocks[""]
	if len(blocks) != 84 { // blocks of 3 intervals
		t.Errorf("%d blocks, want 84", len(blocks))
	}
	var n int64
	for _, s := range blocks {
		n += s.completed
	}
	if n != 250*20 {
		t.Errorf("blocks hold %d requests, want %d", n, 250*20)
	}
	start := time.Now()
	if _, err := Runs(loadShaped(ivs), loadShaped(ivs), nil, Options{}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Minute {
		t.Errorf("comparing two 250-interval runs took %s", d)
	}
}

func TestCompareOutputs(t *testing.T) {
	t.Parallel()
	base, next := steadyRun(1, 10, 5e6, 0), steadyRun(2, 10, 6.5e6, 20)
	c, err := Runs(base, next, nil, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var gates []*Gate
	for _, src := range []string{"p99:+10%", "GET /a:p50:+50ms", "rate:-5%", "error_rate:+1pp"} {
		g, err := ParseGate(src)
		if err != nil {
			t.Fatal(err)
		}
		gates = append(gates, g)
	}
	res, err := JudgeGates(c, gates)
	if err != nil {
		t.Fatal(err)
	}
	wantFailed := []bool{true, false, false, true}
	for i, r := range res {
		if r.Failed != wantFailed[i] {
			t.Errorf("gate %s: failed %v, want %v (%s)", r.Gate.Source, r.Failed, wantFailed[i], gateLine(r))
		}
	}
	b, n := Side{"base.json", base.Title, 10}, Side{"new.json", next.Title, 10}
	for _, f := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"compare.txt", func(w *bytes.Buffer) error { return WriteText(w, b, n, c, res) }},
		{"compare.md", func(w *bytes.Buffer) error { return WriteMarkdown(w, b, n, c, res) }},
		{"compare.json", func(w *bytes.Buffer) error { return WriteJSON(w, b, n, c, res) }},
	} {
		var buf bytes.Buffer
		if err := f.write(&buf); err != nil {
			t.Fatal(err)
		}
		fixture.Golden(t, f.name, buf.Bytes())
	}
	var buf bytes.Buffer
	_ = WriteJSON(&buf, b, n, c, res)
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil || doc["schema"] != Schema {
		t.Errorf("json: %v %v", err, doc["schema"])
	}
}

func TestJudgeGatesUnknownRequest(t *testing.T) {
	t.Parallel()
	c, _ := Runs(steadyRun(1, 5, 5e6, 0), steadyRun(2, 5, 5e6, 0), nil, Options{Resamples: 10})
	g, _ := ParseGate("GET /nope:p99:+10%")
	if _, err := JudgeGates(c, []*Gate{g}); err == nil || !strings.Contains(err.Error(), `no request named "GET /nope"`) {
		t.Errorf("error %v", err)
	}
}

func TestParseGate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		src     string
		want    Gate
		wantErr string
	}{
		{src: "p99:+10%", want: Gate{Metric: "p99", Increase: true, Limit: 0.1, Relative: true}},
		{src: "checkout:p99.9:+20ms", want: Gate{Request: "checkout", Metric: "p99.9", Increase: true, Limit: 20e6}},
		{src: "GET /a:b:mean:-5%", want: Gate{Request: "GET /a:b", Metric: "mean", Limit: 0.05, Relative: true}},
		{src: "rate:-50/s", want: Gate{Metric: "rate", Limit: 50}},
		{src: "error_rate:+0.5pp", want: Gate{Metric: "error_rate", Increase: true, Limit: 0.005}},
		{src: "p99", wantErr: "want [REQUEST:]METRIC:+LIMIT"},
		{src: "p99:10%", wantErr: "needs a sign"},
		{src: "latency:+10%", wantErr: "unknown metric"},
		{src: "p101:+10%", wantErr: "unknown metric"},
		{src: "error_rate:+1%", wantErr: "percentage points"},
		{src: "p99:+ten%", wantErr: "a percentage like 10%"},
		{src: "p99:+fast", wantErr: "a duration like 20ms"},
		{src: "rate:+5", wantErr: "a rate like 50/s"},
		{src: ":p99:+1%", wantErr: "empty request name"},
	}
	for _, c := range cases {
		g, err := ParseGate(c.src)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%q: error %v, want %q", c.src, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.src, err)
			continue
		}
		c.want.Source = c.src
		if math.Abs(g.Limit-c.want.Limit) < 1e-12 {
			g.Limit = c.want.Limit
		}
		if *g != c.want {
			t.Errorf("%q: %+v, want %+v", c.src, *g, c.want)
		}
	}
}

func FuzzParseGate(f *testing.F) {
	for _, s := range []string{"p99:+10%", "a:b:p50:-5ms", "error_rate:+1pp", "rate:-3/s", "::", "p:+%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := ParseGate(s)
		if err != nil {
			return
		}
		if g.Limit < 0 || math.IsNaN(g.Limit) {
			t.Errorf("%q: limit %v", s, g.Limit)
		}
		if _, err := compareMetric(g.Metric); err != nil {
			t.Errorf("%q: accepted metric %q: %v", s, g.Metric, err)
		}
	})
}

// TestCompareRelativeIntervalAboveMinus100 compares a base run with a few
// slow intervals to a fast run. A latency cannot fall by more than 100%,
// yet the interval printed "-113.8% .. -17.7%" (issue 10): it divided the
// bootstrap of the difference by the observed base, while each resample's
// base differs. The relative interval is the bootstrap of the relative
// change itself.
func TestCompareRelativeIntervalAboveMinus100(t *testing.T) {
	t.Parallel()
	base := loadShaped(fixture.Stats(11, fixture.Start, 20, func(i int) fixture.Spec {
		median := 1e6
		if i%7 == 3 {
			median = 100e6
		}
		return fixture.Spec{Names: []string{"GET /a"}, PerName: 300, MedianNs: median, Sigma: 0.3}
	}))
	next := loadShaped(fixture.Stats(12, fixture.Start, 20, func(int) fixture.Spec {
		return fixture.Spec{Names: []string{"GET /a"}, PerName: 300, MedianNs: 1e6, Sigma: 0.3}
	}))
	c, err := Runs(base, next, nil, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"mean", "p90", "p99"} {
		r := compareRow(t, c, "", m)
		if !r.Judged || !r.Beyond {
			t.Errorf("%s: judged %v beyond %v (%s), want a fall beyond noise", m, r.Judged, r.Beyond, r.Note)
			continue
		}
		lo, hi, ok := strings.Cut(r.intervalString(), " .. ")
		low, _ := strconv.ParseFloat(strings.TrimSuffix(lo, "%"), 64)
		high, _ := strconv.ParseFloat(strings.TrimSuffix(hi, "%"), 64)
		if !ok || low < -100 || low > high || high > 0 {
			t.Errorf("%s: %s -> %s, relative interval %q, want one within -100%% .. 0%%", m,
				formatMetric(m, r.Base), formatMetric(m, r.New), r.intervalString())
		}
		if rel := r.Relative * 100; rel < low || rel > high {
			t.Errorf("%s: change %+.1f%% outside its interval %q", m, rel, r.intervalString())
		}
	}
}

// TestCompareSpeaksTheMetricVocabulary: compare and its gates take every
// metric a load measures, with its unit, not only the latency percentiles,
// max, mean, rate and error_rate of the default table.
func TestCompareSpeaksTheMetricVocabulary(t *testing.T) {
	t.Parallel()
	base, next := steadyRun(1, 10, 5e6, 0), steadyRun(2, 10, 6.5e6, 20)
	c, err := Runs(base, next, []string{"service.p99", "requests", "errors", "min", "dropped_rate"}, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r := compareRow(t, c, "", "requests"); r.Base != 6000 || r.New != 6000 || formatMetric("requests", r.Base) != "6000" {
		t.Errorf("requests: %v -> %v (%s), want 6000 -> 6000", r.Base, r.New, formatMetric("requests", r.Base))
	}
	if r := compareRow(t, c, "", "errors"); r.New != 300 || !r.Judged || !r.Beyond {
		t.Errorf("errors: %v -> %v judged %v beyond %v, want 0 -> 300 beyond noise", r.Base, r.New, r.Judged, r.Beyond)
	}
	if r := compareRow(t, c, "", "service.p99"); math.IsNaN(r.Base) || !r.Beyond {
		t.Errorf("service.p99: %v -> %v beyond %v, want a rise beyond noise", r.Base, r.New, r.Beyond)
	}
	if r := compareRow(t, c, "", "min"); r.Judged || !strings.Contains(r.Note, "minimum is one sample") {
		t.Errorf("min: judged %v (%s), want not judged: one sample", r.Judged, r.Note)
	}
	for _, c := range []struct {
		src   string
		limit float64
	}{{"errors:+10", 10}, {"service.p99:+5ms", 5e6}, {"dropped_rate:+1pp", 0.01}} {
		g, err := ParseGate(c.src)
		if err != nil || math.Abs(g.Limit-c.limit) > 1e-12 {
			t.Errorf("ParseGate(%q) = %+v, %v; want limit %v", c.src, g, err, c.limit)
		}
	}
	for _, bad := range []string{"target:+1%", "time_to_recover:+1s", "errors:+ten"} {
		if _, err := ParseGate(bad); err == nil {
			t.Errorf("ParseGate(%q) accepted", bad)
		}
	}
}

// TestBinsWideCounts: a bucket count past 32 bits keeps its bins in
// 64-bit counts, and a resample sums them exactly either way.
func TestBinsWideCounts(t *testing.T) {
	t.Parallel()
	wide := binsOf(map[int]int64{3: 5, 1: math.MaxUint32 + 1})
	narrow := binsOf(map[int]int64{3: 7})
	if !slices.Equal(wide.slot, []int32{1, 3}) || !slices.Equal(wide.wide, []int64{math.MaxUint32 + 1, 5}) || wide.counts != nil {
		t.Fatalf("wide bins %+v", wide)
	}
	if !slices.Equal(narrow.counts, []uint32{7}) || narrow.wide != nil {
		t.Fatalf("narrow bins %+v", narrow)
	}
	s := &series{blocks: []block{{}}}
	s.parts[0] = [][]*bins{{&wide, &narrow}}
	s.parts[1], s.parts[2] = [][]*bins{nil}, [][]*bins{nil}
	a := newAccumulator(&binTable{lowest: make([]int64, 4)})
	a.addBins(s, 0, 2)
	if want := []int64{0, 2 * (math.MaxUint32 + 1), 0, 24}; !slices.Equal(a.counts[0], want) {
		t.Errorf("sum %v, want %v", a.counts[0], want)
	}
}
