package report

import (
	"testing"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report/journal"
)

func TestRunFromJournal(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1700000000, 0).UTC()
	j := &journal.Journal{
		Plan: journal.Plan{
			Name: "exp", Model: loadgen.Open, LoadStart: t0,
			Phases: []journal.Phase{{Name: "baseline", StartMs: 0, EndMs: 10000}, {Name: "fault", StartMs: 10000, EndMs: 30000}},
		},
		Intervals: []*loadgen.Stats{loadgen.NewStats(t0, t0.Add(time.Second)), loadgen.NewStats(t0.Add(29*time.Second), t0.Add(30*time.Second))},
		Faults: []journal.Fault{
			{Label: "fault.faults[0] latency", Kind: "latency", Event: "injected", Describe: "latency 200ms on proxy store", AtMs: 10000},
			{Label: "fault.faults[1] kill", Kind: "kill", Event: "injected", AtMs: 12000},
			{Label: "fault.faults[0] latency", Kind: "latency", Event: "reverted", AtMs: 20000},
			// A failed revert leaves its window open: it lasted to the end.
			{Label: "fault.faults[1] kill", Kind: "kill", Event: "revert_failed", AtMs: 30000},
		},
		Checks: []journal.Check{
			{Kind: "steady_state_before", Name: "gateway is ready", Verdict: "held"},
			{Kind: "hypothesis", Phase: "fault", Expression: "p99 < 2 * baseline.p99", Verdict: "deviated", Measured: "40ms"},
			{Kind: "abort", Expression: "error_rate < 20% over 5s", Verdict: "deviated"},
		},
		Links: []journal.Link{{Proxy: "store", Link: "catalog->store", AtMs: 500, LatencyMs: 201.5, Status: 200}},
	}
	run := runFromJournal(j, j.Intervals[len(j.Intervals)-1].End)
	if run.Title != "exp" || !run.Start.Equal(t0) || !run.End.Equal(t0.Add(30*time.Second)) {
		t.Errorf("title %q start %v end %v", run.Title, run.Start, run.End)
	}
	if len(run.Phases) != 2 || !run.Phases[1].Start.Equal(t0.Add(10*time.Second)) || !run.Phases[1].End.Equal(t0.Add(30*time.Second)) {
		t.Errorf("phases %+v", run.Phases)
	}
	if len(run.Faults) != 2 {
		t.Fatalf("faults %+v", run.Faults)
	}
	link := LinkProbe{Proxy: "store", Link: "catalog->store", At: t0.Add(500 * time.Millisecond), Latency: 201500 * time.Microsecond, Status: 200}
	if len(run.Links) != 1 || run.Links[0] != link {
		t.Errorf("links %+v, want %+v", run.Links, link)
	}
	lat, kill := run.Faults[0], run.Faults[1]
	if !lat.Injected.Equal(t0.Add(10*time.Second)) || !lat.Reverted.Equal(t0.Add(20*time.Second)) || lat.Target != "latency 200ms on proxy store" {
		t.Errorf("latency window %+v", lat)
	}
	if !kill.Injected.Equal(t0.Add(12*time.Second)) || !kill.Reverted.IsZero() {
		t.Errorf("kill window %+v: a failed revert must leave it open", kill)
	}
	want := []Check{
		{Expression: "steady state before the first fault: gateway is ready", Verdict: "held"},
		{Phase: "fault", Expression: "p99 < 2 * baseline.p99", Verdict: "deviated", Measured: "40ms"},
		{Expression: "abort: error_rate < 20% over 5s", Verdict: "deviated"},
	}
	if len(run.Checks) != len(want) {
		t.Fatalf("checks %+v", run.Checks)
	}
	for i, c := range want {
		if run.Checks[i] != c {
			t.Errorf("check %d = %+v, want %+v", i, run.Checks[i], c)
		}
	}
}
