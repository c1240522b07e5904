package report

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
)

// fixtureStart has milliseconds, so formats that must keep them show it.
var fixtureStart = time.Date(2023, 11, 14, 22, 13, 20, 123_000_000, time.UTC)

// sampleSpec says how to fill one interval of a synthetic run.
type sampleSpec struct {
	names    []string
	perName  int     // completed requests per name
	medianNs float64 // log-normal median latency
	sigma    float64 // log-normal shape
	failEach int     // every failEach-th request fails (0: none)
	// timeouts names the requests whose failures are timeouts (no
	// response) rather than 503s.
	timeouts []string
}

// syntheticStats builds n one-second intervals from start with known,
// seeded samples: spec(i) describes interval i.
func syntheticStats(seed uint64, start time.Time, n int, spec func(i int) sampleSpec) []*loadgen.Stats {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var out []*loadgen.Stats
	for i := range n {
		s := spec(i)
		ivStart := start.Add(time.Duration(i) * time.Second)
		iv := loadgen.NewStats(ivStart, ivStart.Add(time.Second))
		for _, name := range s.names {
			ok := &loadgen.Series{Name: name, Outcome: loadgen.OK, Latency: loadgen.NewHistogram(), Service: loadgen.NewHistogram(),
				Status: map[int]int64{}, Errors: map[loadgen.ErrorClass]int64{}}
			bad := &loadgen.Series{Name: name, Outcome: loadgen.Error, Latency: loadgen.NewHistogram(), Service: loadgen.NewHistogram(),
				Status: map[int]int64{}, Errors: map[loadgen.ErrorClass]int64{}}
			for k := range s.perName {
				v := int64(s.medianNs * math.Exp(s.sigma*rng.NormFloat64()))
				v = min(max(v, loadgen.HistLowest), loadgen.HistHighest)
				series := ok
				if s.failEach > 0 && k%s.failEach == s.failEach-1 {
					series = bad
					if slices.Contains(s.timeouts, name) {
						series.Errors[loadgen.ErrTimeout]++
						iv.AddFailure(loadgen.FailureSample{Name: name, Error: loadgen.ErrTimeout, Body: "read tcp 127.0.0.1:50412->127.0.0.1:8080: i/o timeout"})
					} else {
						series.Status[503]++
						iv.AddFailure(loadgen.FailureSample{Name: name, Status: 503, Body: fmt.Sprintf("{\"error\":\"store unavailable\",\"request\":%d}\n", k)})
					}
				} else {
					series.Status[200]++
				}
				_ = series.Latency.RecordValue(v)
				_ = series.Service.RecordValue(max(1, v*9/10))
				series.BytesIn += 200
				series.BytesOut += 100
			}
			one := loadgen.NewStats(ivStart, ivStart.Add(time.Second))
			for _, x := range []*loadgen.Series{bad, ok} {
				if x.Count() > 0 {
					one.Series = append(one.Series, x)
				}
			}
			iv.Merge(one)
			iv.Start, iv.End = ivStart, ivStart.Add(time.Second)
		}
		iv.Scheduled = int64(s.perName * len(s.names))
		_ = iv.SendLag.RecordValue(50_000)
		out = append(out, iv)
	}
	return out
}

// experimentRun is a run shaped like an experiment: baseline, fault and
// recovery phases, one fault, checks of every verdict.
func experimentRun() *Run {
	names := []string{"GET /products", "POST /orders"}
	ivs := syntheticStats(7, fixtureStart, 12, func(i int) sampleSpec {
		s := sampleSpec{names: names, perName: 200, medianNs: 4e6, sigma: 0.4}
		if i >= 4 && i < 8 {
			s.medianNs, s.sigma, s.failEach, s.timeouts = 30e6, 0.7, 10, []string{"POST /orders"}
		}
		return s
	})
	at := func(sec float64) time.Time { return fixtureStart.Add(time.Duration(sec * float64(time.Second))) }
	// The link under the fault: probed every 250 ms, 0.4 ms when healthy,
	// 200 ms and more while the fault is on, one probe failing.
	var links []LinkProbe
	for k := range 48 {
		p := LinkProbe{Proxy: "catalog", Link: "checkout->catalog", At: at(float64(k) * 0.25), Latency: 400*time.Microsecond + time.Duration(k%4)*50*time.Microsecond, Status: 200}
		if k >= 16 && k < 32 {
			p.Latency = 200*time.Millisecond + time.Duration(k%5)*4*time.Millisecond
		}
		if k == 20 {
			p.Status, p.Error = 0, "timeout"
		}
		links = append(links, p)
	}
	return &Run{
		Links: links,
		Title: "checkout survives a slow catalog", Model: loadgen.Open, Start: fixtureStart, End: at(12),
		Intervals: ivs,
		Phases:    []Phase{{"baseline", at(0), at(4)}, {"fault", at(4), at(8)}, {"recovery", at(8), at(12)}},
		Faults:    []FaultWindow{{Name: "slow-catalog", Kind: "latency", Target: "catalog", Injected: at(4), Reverted: at(8)}},
		Checks: []Check{
			{Phase: "baseline", Expression: "p99<50ms", Verdict: VerdictHeld, Measured: "12.1ms"},
			{Phase: "fault", Expression: "error_rate<5%", Verdict: VerdictDeviated, Measured: "10%", Detail: "error_rate = 10% (limit 5%)"},
			{Phase: "fault", Expression: "p99 < baseline.p99 * 3", Verdict: VerdictFailed, Measured: "140ms", Detail: "baseline p99 12.1ms x 3 = 36.3ms"},
			{Phase: "recovery", Expression: "p99<50ms", Verdict: VerdictInconclusive, Detail: "no samples <in> the window & more"},
		},
	}
}

// loadResultsFile writes a results file of a synthetic load run through
// the writer `faultline load` uses and returns its path.
func loadResultsFile(t *testing.T, dir, name string, ivs []*loadgen.Stats, thresholds []ThresholdSummary) string {
	t.Helper()
	path := filepath.Join(dir, name)
	start := ivs[0].Start
	info, err := NewRunInfo("faultline test", loadgen.Open, start, time.Duration(len(ivs))*time.Second, 400, map[string]any{"rate": "400/s"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := CreateResults(path, info)
	if err != nil {
		t.Fatal(err)
	}
	total := loadgen.NewStats(start, start)
	for _, iv := range ivs {
		w.WriteInterval(iv)
		total.Merge(iv)
	}
	end := ivs[len(ivs)-1].End
	res := &loadgen.Result{Model: loadgen.Open, Start: start, End: end, Planned: end.Sub(start), Total: total,
		TargetRate: 400, Sent: total.Scheduled, Generator: loadgen.GeneratorHealth{CPU: time.Second, Cores: 2, Utilization: 0.1}}
	s := Summarize(res, nil)
	s.Thresholds = thresholds
	if err := w.Close(end, s); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadRun is the Run of a synthetic load results file.
func loadRun(t *testing.T) *Run {
	t.Helper()
	ivs := syntheticStats(3, fixtureStart, 5, func(int) sampleSpec {
		return sampleSpec{names: []string{"GET /"}, perName: 400, medianNs: 2e6, sigma: 0.5, failEach: 100}
	})
	path := loadResultsFile(t, t.TempDir(), "r.json", ivs, []ThresholdSummary{
		{Expression: "p99<250ms", Held: true, Value: "5.1ms", Line: "held    p99<250ms  (p99 = 5.1ms)"},
		{Expression: "error_rate<0.5%", Held: false, Value: "1%", Line: "FAILED  error_rate<0.5%  (error_rate = 1%)"},
	})
	run, err := OpenRun(path)
	if err != nil {
		t.Fatal(err)
	}
	return run
}
