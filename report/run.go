package report

import (
	"strings"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
)

// Run is what every renderer draws from: the intervals of one run on one
// timeline, the phases that divide it, the faults injected during it and the
// checks (thresholds and hypotheses) judged on it. A load results file and an
// experiment journal both map into it, so `faultline load`, `faultline run`
// and `faultline report` share the renderers.
type Run struct {
	Title string
	Model loadgen.Model
	// Start and End bound the run: the schedule's start and the moment the
	// last request completed.
	Start, End time.Time
	// Intervals are the intervals of a run built in memory, in time order;
	// each belongs to the phase holding its midpoint. A run read from a
	// file (OpenRun) leaves them empty and streams its intervals from the
	// file instead: see eachInterval and IntervalCount.
	Intervals []*loadgen.Stats
	// Phases are in time order and do not overlap. A load run has one phase
	// named "load".
	Phases []Phase
	// Faults are shaded in the plots over their injected..reverted window.
	Faults []FaultWindow
	Checks []Check
	// Links are the timed requests through the run's proxies, in time
	// order: the fault where it acts, beside the edge view of Intervals.
	Links []LinkProbe

	// source streams the intervals of a run read from a file, in order;
	// full reads their service time and send lag too (decodeInterval).
	source func(full bool, fn func(*Interval) error) error
	// agg is what the renderers read besides the intervals one by one,
	// computed once.
	agg *aggregate
	// links, for a run read from a journal, holds the figures of every
	// probe, of which Links holds those the plot draws.
	links *linkSet
}

// Phase is a named span of the run's timeline.
type Phase struct {
	Name       string
	Start, End time.Time
}

// FaultWindow is a fault that was active from Injected to Reverted. A zero
// Reverted means it was never reverted: it lasted to the end of the run.
type FaultWindow struct {
	Name, Kind, Target string
	Injected, Reverted time.Time
}

// Check is one threshold or hypothesis and its verdict.
type Check struct {
	// Phase names the phase the check was judged on; empty for the whole run.
	Phase      string
	Expression string
	// Verdict is one of VerdictHeld, VerdictFailed, VerdictDeviated or
	// VerdictInconclusive.
	Verdict  string
	Measured string
	Detail   string
}

// The verdicts a check can have.
const (
	VerdictHeld         = "held"
	VerdictFailed       = "failed"
	VerdictDeviated     = "deviated"
	VerdictInconclusive = "inconclusive"
)

// Held reports whether the check held.
func (c Check) Held() bool { return c.Verdict == VerdictHeld }

// LoadPhase is the name of the single phase of a load run.
const LoadPhase = "load"

// loadRunOf is the Run of a load run: one phase named "load" from start to
// the later of ended and lastEnd (the end of its last interval), no
// faults, and the thresholds of the summary s (nil for none) as checks.
func loadRunOf(model loadgen.Model, start, ended, lastEnd time.Time, s *Summary) *Run {
	run := &Run{Model: model, Start: start, End: ended}
	if lastEnd.After(run.End) {
		run.End = lastEnd
	}
	if run.End.IsZero() || run.End.Before(run.Start) {
		run.End = run.Start
	}
	run.Title = "load run of " + run.Start.UTC().Format("2006-01-02 15:04:05 MST")
	run.Phases = []Phase{{Name: LoadPhase, Start: run.Start, End: run.End}}
	if s != nil {
		for _, t := range s.Thresholds {
			run.Checks = append(run.Checks, checkFromThreshold(t))
		}
	}
	return run
}

// checkFromThreshold turns a stored threshold verdict into a check. The
// stored line reads "held  EXPR  (DETAIL)"; the detail is what follows the
// expression.
func checkFromThreshold(t ThresholdSummary) Check {
	c := Check{Phase: LoadPhase, Expression: t.Expression, Verdict: VerdictFailed, Measured: t.Value}
	if t.Held {
		c.Verdict = VerdictHeld
	}
	if i := strings.Index(t.Line, t.Expression); i >= 0 && t.Expression != "" {
		rest := strings.TrimSpace(t.Line[i+len(t.Expression):])
		c.Detail = strings.TrimSuffix(strings.TrimPrefix(rest, "("), ")")
	}
	if t.NoData && c.Detail == "" {
		c.Detail = "no requests completed"
	}
	return c
}

// phaseOf returns the index of the phase holding the midpoint of iv, or -1
// when iv falls outside every phase.
func (r *Run) phaseOf(iv *loadgen.Stats) int { return r.phaseAt(iv.Start, iv.End) }

// phaseAt returns the index of the phase holding the midpoint of the span
// start..end, or -1 when it falls outside every phase.
func (r *Run) phaseAt(start, end time.Time) int {
	mid := start.Add(end.Sub(start) / 2)
	for i, p := range r.Phases {
		if !mid.Before(p.Start) && mid.Before(p.End) {
			return i
		}
	}
	// The last interval may end a little after the last phase (requests
	// completing in the grace period): it still belongs to that phase.
	if n := len(r.Phases); n > 0 && !mid.Before(r.Phases[n-1].End) && !start.After(r.Phases[n-1].End) {
		return n - 1
	}
	return -1
}

// intervals hands every interval of the run to fn, in time order, with
// the index of its phase (-1 for none): a run read from a file reads them
// from it again, one at a time; only full reads their service time and
// send lag.
func (r *Run) intervals(full bool, fn func(iv *Interval, phase int) error) error {
	each := func(iv *Interval) error { return fn(iv, r.phaseAt(iv.Start, iv.End)) }
	if r.source != nil {
		return r.source(full, each)
	}
	for _, st := range r.Intervals {
		if err := each(intervalOf(st)); err != nil {
			return err
		}
	}
	return nil
}

// EachInterval hands every interval of the run to fn, in time order, with
// the index of its phase (-1 for none) and every histogram it holds.
func (r *Run) EachInterval(fn func(iv *Interval, phase int) error) error {
	return r.intervals(true, fn)
}

// aggregate is the run's aggregate, computed on first use for a run built
// in memory (a run read from a file computed it while reading).
func (r *Run) aggregate() *aggregate {
	if r.agg == nil {
		// A run in memory cannot fail to read its intervals.
		r.agg, _ = r.aggregateOf()
	}
	return r.agg
}

// IntervalCount is the number of intervals of the run.
func (r *Run) IntervalCount() int { return r.aggregate().count }

// PhaseIntervalCount is the number of intervals of phase i.
func (r *Run) PhaseIntervalCount(i int) int { return r.aggregate().phaseCount[i] }

// PhaseStats is the intervals of phase i merged, over the phase's span:
// their latency, counts and failure samples (the service time and send
// lag of a run read from a file are left empty). It is shared: callers
// must not change it.
func (r *Run) PhaseStats(i int) *loadgen.Stats { return r.aggregate().phases[i] }

// Total is every interval of the run merged, over the run's span, as
// PhaseStats. It is shared: callers must not change it.
func (r *Run) Total() *loadgen.Stats { return r.aggregate().total }

// Names lists every request name seen in the run, sorted.
func (r *Run) Names() []string {
	return r.Total().Names()
}

// failures counts the checks that did not hold.
func (r *Run) failures() int {
	n := 0
	for _, c := range r.Checks {
		if !c.Held() {
			n++
		}
	}
	return n
}

// latencyFrom says what latency is measured from in the run's model.
func (r *Run) latencyFrom() string {
	if r.Model == loadgen.Closed {
		return "send"
	}
	return "intended start"
}

// offset is t as seconds since the start of the run.
func (r *Run) offset(t time.Time) float64 { return t.Sub(r.Start).Seconds() }
