package experiments

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
)

func TestTimelineOrder(t *testing.T) {
	t.Parallel()
	f1, f2 := &PlannedFault{Start: 0, End: 10 * time.Second}, &PlannedFault{Start: 10 * time.Second, End: 20 * time.Second}
	plan := &Plan{Faults: []*PlannedFault{f1, f2}, SteadyState: []*Probe{{}}}
	evs := timelineOf(plan)
	want := []struct {
		at    time.Duration
		kind  int
		fault *PlannedFault
	}{{0, evSteady, nil}, {0, evInject, f1}, {10 * time.Second, evRevert, f1}, {10 * time.Second, evInject, f2}, {20 * time.Second, evRevert, f2}}
	if len(evs) != len(want) {
		t.Fatalf("%d events, want %d", len(evs), len(want))
	}
	for i, w := range want {
		if evs[i].at != w.at || evs[i].kind != w.kind || evs[i].fault != w.fault {
			t.Errorf("event %d = %+v, want %+v: back-to-back faults must not overlap", i, evs[i], w)
		}
	}
}

// stepLog records what followTimeline asked of its steps, and when.
type stepLog struct {
	start       time.Time
	events      []time.Duration // when each event was carried out
	watched     []bool          // per interval, whether it was watched
	interrupts  int
	eventResult func(ev event) bool          // nil: every event goes on
	abortAt     func(end time.Duration) bool // nil: no abort
}

func (l *stepLog) interval(iv *loadgen.Stats, watching bool) bool {
	l.watched = append(l.watched, watching)
	return watching && l.abortAt != nil && l.abortAt(iv.End.Sub(l.start))
}

func (l *stepLog) event(ctx context.Context, ev event) bool {
	l.events = append(l.events, time.Since(l.start))
	return l.eventResult == nil || l.eventResult(ev)
}

func (l *stepLog) interrupt() { l.interrupts++ }

// fakeLoad hands over one interval a second until length has passed or
// it is stopped, then ends, as loadgen.Run does.
func fakeLoad(ctx context.Context, start time.Time, length time.Duration, intervals chan<- *loadgen.Stats, done chan<- loadDone) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	from := start
	for {
		select {
		case now := <-tick.C:
			intervals <- loadgen.NewStats(from, now)
			from = now
			if now.Sub(start) < length {
				continue
			}
		case <-ctx.Done():
			intervals <- loadgen.NewStats(from, time.Now()) // the partial interval
		}
		done <- loadDone{res: &loadgen.Result{End: time.Now()}}
		return
	}
}

// TestFollowTimeline drives a fake 10 s load along a timeline of faults
// with a fake clock: each event at its time, in order; the load stops at
// the first of an event saying so, an abort or Ctrl-C, and nothing on the
// timeline happens after that.
func TestFollowTimeline(t *testing.T) {
	t.Parallel()
	const ms = time.Millisecond
	evs := []event{
		{at: 2500 * time.Millisecond, kind: evSteady},
		{at: 2500 * time.Millisecond, kind: evInject},
		{at: 5500 * time.Millisecond, kind: evRevert},
		{at: 7500 * time.Millisecond, kind: evInject},
		{at: 9500 * time.Millisecond, kind: evRevert},
	}
	cases := []struct {
		name           string
		cancelAt       time.Duration // 0: never
		eventResult    func(ev event) bool
		abortAt        func(end time.Duration) bool
		wantEvents     []time.Duration
		wantIntervals  int // watched ones
		wantInterrupts int
		wantEnd        time.Duration
		wantStopped    bool
	}{
		{name: "runs to the end", wantEvents: []time.Duration{2500 * ms, 2500 * ms, 5500 * ms, 7500 * ms, 9500 * ms},
			wantIntervals: 10, wantEnd: 10 * time.Second},
		{name: "the steady state fails", eventResult: func(ev event) bool { return ev.kind != evSteady },
			wantEvents: []time.Duration{2500 * ms}, wantIntervals: 2, wantEnd: 2500 * ms, wantStopped: true},
		{name: "an abort at the fourth interval", abortAt: func(end time.Duration) bool { return end == 4*time.Second },
			wantEvents: []time.Duration{2500 * ms, 2500 * ms}, wantIntervals: 4, wantEnd: 4 * time.Second, wantStopped: true},
		{name: "Ctrl-C while a fault is injected", cancelAt: 6200 * ms,
			wantEvents: []time.Duration{2500 * ms, 2500 * ms, 5500 * ms}, wantIntervals: 6, wantInterrupts: 1, wantEnd: 6200 * ms, wantStopped: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if c.cancelAt > 0 {
					time.AfterFunc(c.cancelAt, cancel)
				}
				start := time.Now()
				loadCtx, stopLoad := context.WithCancel(context.Background())
				intervals, done := make(chan *loadgen.Stats, 16), make(chan loadDone, 1)
				go fakeLoad(loadCtx, start, 10*time.Second, intervals, done)
				stops := 0
				steps := &stepLog{start: start, eventResult: c.eventResult, abortAt: c.abortAt}
				d := followTimeline(ctx, start, evs, intervals, done, func() { stops++; stopLoad() }, steps)
				if got := d.res.End.Sub(start); got != c.wantEnd {
					t.Errorf("load ended at %v, want %v", got, c.wantEnd)
				}
				if len(steps.events) != len(c.wantEvents) {
					t.Fatalf("events at %v, want %v", steps.events, c.wantEvents)
				}
				for i, at := range c.wantEvents {
					if steps.events[i] != at {
						t.Errorf("event %d at %v, want %v", i, steps.events[i], at)
					}
				}
				watched := 0
				for i, w := range steps.watched {
					if w {
						watched++
						if i >= c.wantIntervals {
							t.Errorf("interval %d watched after the load was stopped", i)
						}
					}
				}
				if watched != c.wantIntervals {
					t.Errorf("%d intervals watched, want %d (of %d)", watched, c.wantIntervals, len(steps.watched))
				}
				if steps.interrupts != c.wantInterrupts {
					t.Errorf("%d interrupts, want %d", steps.interrupts, c.wantInterrupts)
				}
				if want := map[bool]int{true: 1}[c.wantStopped]; stops != want {
					t.Errorf("the load was stopped %d times, want %d", stops, want)
				}
				stopLoad()
			})
		})
	}
}
