package report

import (
	"time"

	"github.com/faultline-dev/faultline/report/journal"
)

// runFromJournal maps the journal of `faultline run` into a Run: its
// phases, the fault windows (each injection paired with its revert), and
// every probe, hypothesis, threshold and abort verdict as checks. end is
// the end of its last interval (zero for none): the end of the run.
func runFromJournal(j *journal.Journal, end time.Time) *Run {
	start := j.Plan.LoadStart
	at := func(ms float64) time.Time { return start.Add(time.Duration(ms * float64(time.Millisecond))) }
	run := &Run{Title: j.Plan.Name, Model: j.Plan.Model, Start: start, End: start, Intervals: j.Intervals}
	if !end.IsZero() {
		run.End = end
	}
	for _, p := range j.Plan.Phases {
		// A run stopped early (an abort, Ctrl-C) ran its phases only up to
		// its end: rates are over the time the load ran, as the run says.
		end := at(p.EndMs)
		if end.After(run.End) {
			end = run.End
		}
		run.Phases = append(run.Phases, Phase{Name: p.Name, Start: minTime(at(p.StartMs), end), End: end})
	}
	open := map[string]int{} // fault label -> index of its window awaiting a revert
	for _, f := range j.Faults {
		switch f.Event {
		case "injected":
			open[f.Label] = len(run.Faults)
			run.Faults = append(run.Faults, FaultWindow{Name: f.Label, Kind: f.Kind, Target: f.Describe, Injected: at(f.AtMs)})
		case "reverted", "revert_failed":
			if i, ok := open[f.Label]; ok && f.Event == "reverted" {
				run.Faults[i].Reverted = at(f.AtMs)
				delete(open, f.Label)
			}
		}
	}
	for _, l := range j.Links {
		run.Links = append(run.Links, linkProbeOf(l, start))
	}
	for _, c := range j.Checks {
		expr := c.Expression
		if expr == "" {
			expr = c.Name
		}
		switch c.Kind {
		case "steady_state_before":
			expr = "steady state before the first fault: " + c.Name
		case "steady_state_after":
			expr = "steady state after the last phase: " + c.Name
		case "abort":
			expr = "abort: " + expr
		}
		run.Checks = append(run.Checks, Check{Phase: c.Phase, Expression: expr, Verdict: c.Verdict, Measured: c.Measured, Detail: c.Detail})
	}
	return run
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// linkProbeOf is a journaled link request as a LinkProbe, its time from
// start.
func linkProbeOf(l journal.Link, start time.Time) LinkProbe {
	return LinkProbe{Proxy: l.Proxy, Link: l.Link, At: start.Add(time.Duration(l.AtMs * float64(time.Millisecond))),
		Latency: time.Duration(l.LatencyMs * float64(time.Millisecond)), Status: l.Status, Error: l.Error}
}
