package experiments

import (
	"math"
	"time"
)

// Recovery: the p99 of an interval counts as back to normal within
// recoveryTolerance of the baseline's p99 (or recoveryFloor above it, for
// baselines of a millisecond or two, where a quarter is noise), and
// recovery needs recoveryStable such intervals in a row.
const (
	recoveryTolerance = 0.25
	recoveryFloor     = 2 * time.Millisecond
	recoveryStable    = 3
)

// timeToRecover is the time from lastRevert (after loadStart) to the start
// of the first run of recoveryStable intervals of all whose p99 and error
// rate are back near those of base: +Inf if that never happened, NaN when
// no interval ended after the revert.
func timeToRecover(base, all []*sample, loadStart time.Time, lastRevert time.Duration) float64 {
	if len(base) == 0 {
		return math.NaN()
	}
	p99 := &refNode{metric: "p99"}
	errRate := &refNode{metric: "error_rate"}
	baseP99 := metricValue(p99, base, nil)
	baseErr := metricValue(errRate, base, nil)
	limit := math.Max(baseP99*(1+recoveryTolerance), baseP99+float64(recoveryFloor))
	after := false
	for _, s := range all {
		after = after || s.end.Sub(loadStart) > lastRevert
	}
	if !after {
		return math.NaN() // reverted as the load ended: nothing to judge
	}
	run := 0
	for i, s := range all {
		if s.end.Sub(loadStart) <= lastRevert {
			continue
		}
		one := []*sample{s}
		v, e := metricValue(p99, one, nil), metricValue(errRate, one, nil)
		if !math.IsNaN(v) && v <= limit && (math.IsNaN(e) || e <= baseErr+0.01) {
			run++
			if run == recoveryStable {
				first := all[i-recoveryStable+1]
				return math.Max(0, float64(first.start.Sub(loadStart)-lastRevert))
			}
		} else {
			run = 0
		}
	}
	return math.Inf(1)
}
