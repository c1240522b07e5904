package experiments

import (
	"fmt"
	"math"
	"time"

	"github.com/faultline-dev/faultline/report/journal"
)

// abortWatch judges the abort conditions over the most recent window of
// intervals, at every interval.
type abortWatch struct {
	conds   []*Condition
	longest time.Duration // the longest window: older intervals are dropped
	recent  []*sample
}

func newAbortWatch(conds []*Condition) *abortWatch {
	w := &abortWatch{conds: conds}
	for _, c := range conds {
		w.longest = max(w.longest, c.Window)
	}
	return w
}

// observe adds s, the newest interval, and returns the check of the first
// condition it finds broken over its window (nil when every one holds or
// has no whole window yet). phases are every phase's intervals so far, for
// conditions that name another phase.
func (w *abortWatch) observe(s *sample, phase string, phases map[string][]*sample) *journal.Check {
	w.recent = append(w.recent, s)
	for len(w.recent) > 1 && s.end.Sub(w.recent[0].start) > w.longest+time.Second {
		w.recent = w.recent[1:]
	}
	for _, c := range w.conds {
		var window []*sample
		for _, x := range w.recent {
			if s.end.Sub(x.start) <= c.Window+c.Window/10 {
				window = append(window, x)
			}
		}
		if len(window) == 0 || s.end.Sub(window[0].start) < c.Window-c.Window/10 {
			continue // not a whole window yet
		}
		sc := &scope{current: window, phases: phases, timeToRecover: math.NaN()}
		left, right := eval(c.Left, sc, sc.samplesOf), eval(c.Right, sc, sc.samplesOf)
		if math.IsNaN(left) || math.IsNaN(right) || holds(c.Op, left, right) {
			continue
		}
		return &journal.Check{Kind: "abort", Phase: phase, Expression: c.Source, Verdict: string(Deviated),
			Measured: c.Left.unit().Format(left),
			Detail: fmt.Sprintf("%s = %s over the last %s, %s %s", c.Left, c.Left.unit().Format(left), c.Window,
				opWord(c.Op, false), c.Right.unit().Format(right))}
	}
	return nil
}
