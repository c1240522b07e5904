package experiments

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
)

// event is one point of the fault timeline.
type event struct {
	at    time.Duration
	kind  int // evRevert, evSteady, evInject: their order at one instant
	fault *PlannedFault
}

const (
	evRevert = iota // reverts first, so back-to-back faults do not overlap
	evSteady
	evInject
)

// timelineOf lists the plan's injections, reverts and the steady-state
// check before the first fault, in the order they happen.
func timelineOf(plan *Plan) []event {
	var evs []event
	for _, f := range plan.Faults {
		evs = append(evs, event{at: f.Start, kind: evInject, fault: f}, event{at: f.End, kind: evRevert, fault: f})
	}
	if at, ok := plan.SteadyStateAt(); ok {
		evs = append(evs, event{at: at, kind: evSteady})
	}
	sortEvents(evs)
	return evs
}

// sortEvents orders the timeline by time, and at one instant reverts
// before the steady-state check before injections.
func sortEvents(evs []event) {
	slices.SortStableFunc(evs, func(a, b event) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.kind, b.kind)
	})
}

// phaseAt is the phase an offset falls in (the last one past the end).
func phaseAt(phases []*Phase, offset time.Duration) *Phase {
	for _, p := range phases {
		if offset < p.End {
			return p
		}
	}
	return phases[len(phases)-1]
}

// loadDone is how the load ended.
type loadDone struct {
	res *loadgen.Result
	err error
}

// timelineSteps are what the timeline drives: the runner's parts behind
// three calls, so that the driving itself is tested without a load.
type timelineSteps interface {
	// interval takes one interval of the load; watching is false once the
	// load is being stopped (abort conditions are then no longer judged).
	// It reports whether an abort condition broke.
	interval(iv *loadgen.Stats, watching bool) (abort bool)
	// event carries out one point of the timeline; false stops the load.
	event(ctx context.Context, ev event) bool
	// interrupt is the first cancellation of ctx.
	interrupt()
}

// followTimeline drives a running load started at start: each event at its
// time, every interval as it arrives. The load is stopped (stop, once) when
// an event says so, an abort condition breaks or ctx is cancelled; no event
// is carried out after that. No injection is carried out once the load has
// ended either, even when it came due first (an event before it can hold
// the timeline up): the caller names the faults left. It returns how the
// load ended, once every interval the load handed over has been taken.
func followTimeline(ctx context.Context, start time.Time, evs []event, intervals <-chan *loadgen.Stats,
	done <-chan loadDone, stop func(), steps timelineSteps) loadDone {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	stopped := false
	halt := func() {
		if !stopped {
			stopped = true
			stop()
		}
	}
	cancelled := ctx.Done()
	// drain takes the intervals left once the load has ended.
	drain := func(d loadDone) loadDone {
		if cancelled != nil && ctx.Err() != nil {
			// Ctrl-C came as the load ended: it is still an interrupt.
			steps.interrupt()
		}
		for {
			select {
			case iv := <-intervals:
				// The last intervals of a load that ran to its end
				// are watched like the others.
				steps.interval(iv, !stopped)
			default:
				return d
			}
		}
	}
	for {
		timer.Stop()
		var due <-chan time.Time
		if len(evs) > 0 && !stopped {
			timer.Reset(time.Until(start.Add(evs[0].at)))
			due = timer.C
		}
		select {
		case iv := <-intervals:
			if steps.interval(iv, !stopped) {
				halt()
			}
		case <-due:
			ev := evs[0]
			if ev.kind == evInject {
				select {
				case d := <-done:
					return drain(d)
				default:
				}
			}
			evs = evs[1:]
			if !steps.event(ctx, ev) {
				halt()
			}
		case <-cancelled:
			cancelled = nil // once
			steps.interrupt()
			halt()
		case d := <-done:
			return drain(d)
		}
	}
}
