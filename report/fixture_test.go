package report

import (
	"testing"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report/internal/fixture"
)

// experimentRun is a run shaped like an experiment: baseline, fault and
// recovery phases, one fault, checks of every verdict.
func experimentRun() *Run {
	names := []string{"GET /products", "POST /orders"}
	ivs := fixture.Stats(7, fixture.Start, 12, func(i int) fixture.Spec {
		s := fixture.Spec{Names: names, PerName: 200, MedianNs: 4e6, Sigma: 0.4}
		if i >= 4 && i < 8 {
			s.MedianNs, s.Sigma, s.FailEach, s.Timeouts = 30e6, 0.7, 10, []string{"POST /orders"}
		}
		return s
	})
	at := func(sec float64) time.Time { return fixture.Start.Add(time.Duration(sec * float64(time.Second))) }
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
		Title: "checkout survives a slow catalog", Model: loadgen.Open, Start: fixture.Start, End: at(12),
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

// withThresholds stores the summary of a run with the given threshold
// verdicts.
func withThresholds(thresholds []ThresholdSummary) func(*loadgen.Result) any {
	return func(res *loadgen.Result) any {
		s := Summarize(res, nil)
		s.Thresholds = thresholds
		return s
	}
}

// loadRun is the Run of a synthetic load results file.
func loadRun(t *testing.T) *Run {
	t.Helper()
	ivs := fixture.Stats(3, fixture.Start, 5, func(int) fixture.Spec {
		return fixture.Spec{Names: []string{"GET /"}, PerName: 400, MedianNs: 2e6, Sigma: 0.5, FailEach: 100}
	})
	path := fixture.WriteResults(t, t.TempDir(), "r.json", ivs, withThresholds([]ThresholdSummary{
		{Expression: "p99<250ms", Held: true, Value: "5.1ms", Line: "held    p99<250ms  (p99 = 5.1ms)"},
		{Expression: "error_rate<0.5%", Held: false, Value: "1%", Line: "FAILED  error_rate<0.5%  (error_rate = 1%)"},
	}))
	run, err := OpenRun(path)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// loadShaped wraps intervals in a Run with one "load" phase.
func loadShaped(ivs []*loadgen.Stats) *Run {
	start, end := ivs[0].Start, ivs[len(ivs)-1].End
	return &Run{Title: "synthetic", Model: loadgen.Open, Start: start, End: end, Intervals: ivs,
		Phases: []Phase{{Name: LoadPhase, Start: start, End: end}}}
}
