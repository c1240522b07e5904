package experiments

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/faultline-dev/faultline/report/journal"
)

// checkSteadyState runs the steady-state probes over samples (kind says
// before or after) and reports whether every one held. A probe cut short
// by the cancellation of ctx is inconclusive: it says nothing about the
// system.
func (r *runner) checkSteadyState(ctx context.Context, kind string, samples []*sample) bool {
	ok := true
	for _, p := range r.plan.SteadyState {
		res := runProbe(ctx, p, samples, r.env.resolve, r.rng)
		if res.Verdict != Held && ctx.Err() != nil {
			res = probeResult{Verdict: Inconclusive, Detail: "interrupted before the probe could tell"}
		}
		name := p.Spec.Name
		if name == "" {
			name = p.Spec.Expect
		}
		r.journal.check(journal.Check{Kind: kind, Name: name, Expression: p.Spec.Expect, Verdict: string(res.Verdict), Measured: res.Measured, Detail: res.Detail})
		if res.Verdict != Held {
			ok = false
		}
		r.show.logf("steady state %s: %s (%s)", name, res.Verdict, res.Detail)
	}
	return ok
}

// judge checks the steady state after the last phase (unless the run
// stopped early), every phase's hypotheses and the load's thresholds, and
// reports whether all of them held.
func (r *runner) judge(ctx context.Context) bool {
	held := true
	if !r.end.stopped() {
		last := r.plan.Phases[len(r.plan.Phases)-1]
		held = r.checkSteadyState(ctx, "steady_state_after", r.archive.phase(last.Name))
	}
	ttr, why := math.NaN(), ""
	if r.faults.reverted() {
		ttr, why = r.archive.timeToRecover(r.faults.lastRevert)
	}
	phases := r.archive.byPhase()
	for _, p := range r.plan.Phases {
		absent, late := r.faults.inEffect(p)
		for _, c := range p.Hypotheses {
			j := judge(c, &scope{current: r.archive.phase(p.Name), phases: phases, timeToRecover: ttr, recoveryNote: why}, r.rng)
			switch {
			case len(absent) > 0 && j.Verdict != Inconclusive:
				// The data are of a phase without its fault: they cannot
				// tell what the fault does.
				j.Verdict = Inconclusive
				j.Detail = "not in effect during the phase: " + strings.Join(absent, "; ") + " (measured " + j.Detail + ")"
			case len(late) > 0:
				// Judged, but over a phase its fault held for only part
				// of: the reader should know.
				j.Detail += "; " + strings.Join(late, "; ")
			}
			r.journal.check(journal.Check{Kind: "hypothesis", Phase: p.Name, Expression: c.Source, Verdict: string(j.Verdict),
				Measured: j.Measured, Detail: j.Detail, CILow: j.CILow, CIHigh: j.CIHigh})
			if j.Verdict == Deviated || (j.Verdict == Inconclusive && !r.opts.InconclusiveOK) {
				held = false
			}
		}
	}
	if r.res.Total == nil {
		return held
	}
	r.res.Thresholds = r.evaluator.Results(r.res.Total)
	for _, t := range r.res.Thresholds {
		v := "held"
		if !t.Held {
			v, held = "failed", false
		}
		detail := fmt.Sprintf("%s = %s", t.Threshold.Metric(), t.Threshold.Format(t.Value))
		switch {
		case t.NoData:
			detail = "no requests completed"
		case t.Threshold.Window > 0:
			detail = fmt.Sprintf("worst %s window: %s", t.Threshold.Window, detail)
		}
		r.journal.check(journal.Check{Kind: "threshold", Expression: t.Threshold.Source, Verdict: v, Measured: t.Threshold.Format(t.Value), Detail: detail})
	}
	return held
}
