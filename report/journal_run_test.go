package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
)

func TestRunFromJournal(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1700000000, 0).UTC()
	j := &Journal{
		Plan: JournalPlan{
			Name: "exp", Model: loadgen.Open, LoadStart: t0,
			Phases: []JournalPhase{{Name: "baseline", StartMs: 0, EndMs: 10000}, {Name: "fault", StartMs: 10000, EndMs: 30000}},
		},
		Intervals: []*loadgen.Stats{loadgen.NewStats(t0, t0.Add(time.Second)), loadgen.NewStats(t0.Add(29*time.Second), t0.Add(30*time.Second))},
		Faults: []JournalFault{
			{Label: "fault.faults[0] latency", Kind: "latency", Event: "injected", Describe: "latency 200ms on proxy store", AtMs: 10000},
			{Label: "fault.faults[1] kill", Kind: "kill", Event: "injected", AtMs: 12000},
			{Label: "fault.faults[0] latency", Kind: "latency", Event: "reverted", AtMs: 20000},
			// A failed revert leaves its window open: it lasted to the end.
			{Label: "fault.faults[1] kill", Kind: "kill", Event: "revert_failed", AtMs: 30000},
		},
		Checks: []JournalCheck{
			{Kind: "steady_state_before", Name: "gateway is ready", Verdict: "held"},
			{Kind: "hypothesis", Phase: "fault", Expression: "p99 < 2 * baseline.p99", Verdict: "deviated", Measured: "40ms"},
			{Kind: "abort", Expression: "error_rate < 20% over 5s", Verdict: "deviated"},
		},
	}
	run := RunFromJournal(j)
	if run.Title != "exp" || !run.Start.Equal(t0) || !run.End.Equal(t0.Add(30*time.Second)) {
		t.Errorf("title %q start %v end %v", run.Title, run.Start, run.End)
	}
	if len(run.Phases) != 2 || !run.Phases[1].Start.Equal(t0.Add(10*time.Second)) || !run.Phases[1].End.Equal(t0.Add(30*time.Second)) {
		t.Errorf("phases %+v", run.Phases)
	}
	if len(run.Faults) != 2 {
		t.Fatalf("faults %+v", run.Faults)
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

func TestJournalRoundTripKeepsFailuresAndLinks(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1700000000, 0).UTC()
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	w, err := CreateJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.Write(JournalRecord{Type: "start", Plan: &JournalPlan{Name: "exp", LoadStart: t0,
		Phases: []JournalPhase{{Name: "baseline", EndMs: 2000}}}}))
	iv := loadgen.NewStats(t0, t0.Add(time.Second))
	iv.AddFailure(loadgen.FailureSample{Name: "create", Status: 400, Body: `{"error":"missing field sku"}`, Truncated: true})
	iv.AddFailure(loadgen.FailureSample{Name: "create", Error: loadgen.ErrReset, Body: "connection reset by peer"})
	must(w.WriteInterval("baseline", iv))
	must(w.Write(JournalRecord{Type: "link", Link: &JournalLink{Proxy: "store", Link: "catalog->store", AtMs: 500, LatencyMs: 201.5, Status: 200}}))
	must(w.Close())
	raw, err := os.ReadFile(path)
	must(err)
	for _, version := range []string{`"version":2`, `"version":1`} {
		// A version 1 journal (no samples, no links) still reads.
		data := strings.Replace(string(raw), `"version":2`, version, 1)
		j, err := ReadJournal(strings.NewReader(data), "journal.jsonl")
		if err != nil {
			t.Fatalf("%s: %v", version, err)
		}
		run := RunFromJournal(j)
		got := run.Intervals[0].Failures
		if len(got) != 2 || got[0] != iv.Failures[0] || got[1] != iv.Failures[1] {
			t.Errorf("%s: failures read back %+v, want %+v", version, got, iv.Failures)
		}
		want := LinkProbe{Proxy: "store", Link: "catalog->store", At: t0.Add(500 * time.Millisecond), Latency: 201500 * time.Microsecond, Status: 200}
		if len(run.Links) != 1 || run.Links[0] != want {
			t.Errorf("%s: links read back %+v, want %+v", version, run.Links, want)
		}
	}
}
