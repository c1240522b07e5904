package report

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report/results"
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
	// Intervals are in time order; each belongs to the phase holding its
	// midpoint.
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

// runFromResults maps a results file of `faultline load` into a Run: one
// phase named "load" spanning the run, no faults, and the thresholds of the
// stored summary as checks.
func runFromResults(r *results.File) *Run {
	var s Summary
	// A summary that does not decode leaves the run without checks; the
	// histograms, which are what the renderers draw, were already read.
	if json.Unmarshal(r.Summary, &s) != nil {
		s = Summary{}
	}
	return runFromLoad(r.Model, r.StartedAt, r.EndedAt, r.Intervals, &s)
}

// runFromLoad maps a load run into a Run, from its intervals and summary
// (nil for none), so that `faultline load` can render any format without
// writing a results file first.
func runFromLoad(model loadgen.Model, start, end time.Time, intervals []*loadgen.Stats, s *Summary) *Run {
	run := &Run{Model: model, Start: start, End: end, Intervals: intervals}
	if n := len(intervals); n > 0 && intervals[n-1].End.After(run.End) {
		run.End = intervals[n-1].End
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
func (r *Run) phaseOf(iv *loadgen.Stats) int {
	mid := iv.Start.Add(iv.End.Sub(iv.Start) / 2)
	for i, p := range r.Phases {
		if !mid.Before(p.Start) && mid.Before(p.End) {
			return i
		}
	}
	// The last interval may end a little after the last phase (requests
	// completing in the grace period): it still belongs to that phase.
	if n := len(r.Phases); n > 0 && !mid.Before(r.Phases[n-1].End) && !iv.Start.After(r.Phases[n-1].End) {
		return n - 1
	}
	return -1
}

// PhaseStats merges the intervals of phase i.
func (r *Run) PhaseStats(i int) *loadgen.Stats {
	p := r.Phases[i]
	s := loadgen.NewStats(p.Start, p.End)
	for _, iv := range r.Intervals {
		if r.phaseOf(iv) == i {
			s.Merge(iv)
		}
	}
	// Merge widens the span to the intervals'; rates are over the phase.
	s.Start, s.End = p.Start, p.End
	return s
}

// PhaseIntervals returns the intervals of phase i, in time order.
func (r *Run) PhaseIntervals(i int) []*loadgen.Stats {
	var out []*loadgen.Stats
	for _, iv := range r.Intervals {
		if r.phaseOf(iv) == i {
			out = append(out, iv)
		}
	}
	return out
}

// Total merges every interval of the run, over the run's span.
func (r *Run) Total() *loadgen.Stats {
	s := loadgen.NewStats(r.Start, r.End)
	for _, iv := range r.Intervals {
		s.Merge(iv)
	}
	s.Start, s.End = r.Start, r.End
	return s
}

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
