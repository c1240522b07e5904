package report

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report/internal/fixture"
	"github.com/faultline-dev/faultline/report/journal"
	"github.com/faultline-dev/faultline/report/results"
)

// TestStreamedRunsRenderAsInMemory: a results file and a journal read as a
// stream (OpenRun) render every format byte for byte as the same run read
// whole into memory, as every report was rendered before runs were
// streamed: phases, the run's end clipping them, link probes after it,
// failure samples, errors. The journal is longer than maxPlotPoints, so
// its plots over time are downsampled, in both; its links hold fewer than
// maxLinkProbes probes, so they are drawn one by one in both.
func TestStreamedRunsRenderAsInMemory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ivs := fixture.Stats(5, fixture.Start, 1203, func(i int) fixture.Spec {
		s := fixture.Spec{Names: []string{"GET /a", "POST /b"}, PerName: 20, MedianNs: 3e6, Sigma: 0.5}
		if i%100 < 10 {
			s.FailEach, s.Timeouts = 7, []string{"POST /b"}
		}
		return s
	})
	path := filepath.Join(dir, "journal.jsonl")
	w, err := journal.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	plan := &journal.Plan{Name: "streamed", Model: loadgen.Open, LoadStart: fixture.Start, Phases: []journal.Phase{
		{Name: "baseline", EndMs: 400_000}, {Name: "fault", StartMs: 400_000, EndMs: 800_000}, {Name: "recovery", StartMs: 800_000, EndMs: 1_300_000}}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.Write(journal.Record{Type: "start", Plan: plan}))
	for i, iv := range ivs {
		for k := range 3 {
			// A probe every 333 ms: slow in the fault, one failing now and then.
			l := journal.Link{Proxy: "store", Link: "catalog->store", AtMs: float64(i*1000 + k*333), LatencyMs: 0.4 + float64(k)/10, Status: 200}
			if i >= 400 && i < 800 {
				l.LatencyMs = 50 + float64(i%7)
			}
			if i%97 == 0 && k == 1 {
				l.Status, l.Error = 0, "timeout"
			}
			must(w.Write(journal.Record{Type: "link", Link: &l}))
		}
		must(w.WriteInterval("", iv))
	}
	// Probes after the last interval belong to no phase.
	must(w.Write(journal.Record{Type: "link", Link: &journal.Link{Proxy: "store", AtMs: 1_203_100, LatencyMs: 900, Status: 200}}))
	must(w.Write(journal.Record{Type: "fault", Fault: &journal.Fault{Label: "f", Kind: "latency", Event: "injected", AtMs: 400_000}}))
	must(w.Write(journal.Record{Type: "fault", Fault: &journal.Fault{Label: "f", Kind: "latency", Event: "reverted", AtMs: 800_000}}))
	must(w.Close())
	streamed, err := OpenRun(path)
	must(err)
	f, err := os.Open(path)
	must(err)
	j, err := journal.Read(f, path)
	f.Close()
	must(err)
	whole := runFromJournal(j, j.Intervals[len(j.Intervals)-1].End)

	resPath := fixture.WriteResults(t, dir, "r.json", ivs[:300], func(res *loadgen.Result) any { return Summarize(res, nil) })
	streamedRes, err := OpenRun(resPath)
	must(err)
	rf, err := results.Open(resPath)
	must(err)
	wholeRes := loadRunOf(rf.Model, rf.StartedAt, rf.EndedAt, rf.Intervals[len(rf.Intervals)-1].End, nil)
	wholeRes.Intervals = rf.Intervals

	for name, pair := range map[string][2]*Run{"journal": {streamed, whole}, "results": {streamedRes, wholeRes}} {
		if got, want := pair[0].IntervalCount(), pair[1].IntervalCount(); got != want {
			t.Errorf("%s: %d intervals streamed, %d in memory", name, got, want)
		}
		for _, f := range Formats() {
			var a, b bytes.Buffer
			must(f.Render(&a, pair[0], Options{}))
			must(f.Render(&b, pair[1], Options{}))
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Errorf("%s: %s streamed differs from in memory (%d and %d bytes)", name, f.Name, a.Len(), b.Len())
			}
		}
	}
	// The streamed runs' aggregates share noSamples for their service
	// times and send lags; rendering must not have written into it.
	if n := noSamples().TotalCount(); n != 0 {
		t.Errorf("the shared empty histogram holds %d values", n)
	}
}

// TestLinkProbesDownsampled: past maxLinkProbes the link plot draws the
// slowest of each run of consecutive probes, and so keeps the slowest.
func TestLinkProbesDownsampled(t *testing.T) {
	t.Parallel()
	ps := &probeSeries{per: 1}
	for i := range 3*maxLinkProbes + 5 {
		lat := time.Duration(i%10) * time.Millisecond
		if i == 7777 {
			lat = time.Second
		}
		ps.add(LinkProbe{At: fixture.Start.Add(time.Duration(i) * 250 * time.Millisecond), Latency: lat})
	}
	if len(ps.probes) > maxLinkProbes || len(ps.probes) < maxLinkProbes/2 {
		t.Errorf("%d probes drawn, want at most %d", len(ps.probes), maxLinkProbes)
	}
	slowest := 0
	for _, p := range ps.probes {
		if p.Latency == time.Second {
			slowest++
		}
	}
	if slowest != 1 {
		t.Errorf("the slowest probe is drawn %d times, want once", slowest)
	}
}
