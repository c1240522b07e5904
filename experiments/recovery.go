package experiments

import (
	"fmt"
	"math"
	"time"

	"github.com/faultline-dev/faultline/internal/statistics"

	"github.com/faultline-dev/faultline/internal/metric"
)

// Recovery: "back to normal" is judged against the spread the baseline
// itself showed across its intervals, so that a machine busy with
// something else, which widens the baseline's intervals as much as the
// recovery's, does not read as a system that never recovered. An interval
// is back to normal when
//
//   - its p99 is at most the larger of the recoverySpread quantile of the
//     baseline's per-interval p99s and the baseline's p99 over the whole
//     phase, times 1 + recoveryTolerance, and in any case at least
//     recoveryFloor above the baseline's p99 (for baselines of a
//     millisecond or two, where a quarter is noise); and
//   - its error rate is at most the larger of the recoverySpread quantile
//     of the baseline's per-interval error rates and the baseline's error
//     rate, plus recoveryErrorMargin (an interval with no completed request
//     passes);
//
// and recovery needs recoveryStable such intervals in a row.
const (
	recoverySpread      = 0.9
	recoveryTolerance   = 0.25
	recoveryFloor       = 2 * time.Millisecond
	recoveryErrorMargin = 0.01
	recoveryStable      = 3
)

// normal is what "back to normal" means for one interval.
type normal struct {
	p99, errorRate float64 // the highest that still count as normal
}

var (
	metricP99       = metric.Must("p99")
	metricErrorRate = metric.Must("error_rate")
)

// normalOf derives "back to normal" from the baseline: base are its
// intervals' pulses, whole its blocks (the merge of every interval).
func normalOf(base []pulse, whole []*sample) normal {
	var p99s, errs []float64
	for _, p := range base {
		if !math.IsNaN(p.p99) {
			p99s = append(p99s, p.p99)
		}
		if !math.IsNaN(p.errorRate) {
			errs = append(errs, p.errorRate)
		}
	}
	p99 := valueOf(metricP99, "", whole)
	errRate := valueOf(metricErrorRate, "", whole)
	spreadP99, spreadErr := p99, errRate
	if len(p99s) > 0 {
		spreadP99 = math.Max(p99, statistics.QuantileOf(p99s, recoverySpread))
	}
	if len(errs) > 0 {
		spreadErr = math.Max(errRate, statistics.QuantileOf(errs, recoverySpread))
	}
	return normal{
		p99:       math.Max(spreadP99*(1+recoveryTolerance), p99+float64(recoveryFloor)),
		errorRate: spreadErr + recoveryErrorMargin,
	}
}

// holds reports whether the interval p is back to normal.
func (n normal) holds(p pulse) bool {
	v, e := p.p99, p.errorRate
	return !math.IsNaN(v) && v <= n.p99 && (math.IsNaN(e) || e <= n.errorRate)
}

// timeToRecover is the time from lastRevert (after the start of the load)
// to the start of the first run of recoveryStable intervals of all that
// are back to normal: +Inf if none came while the load ran. base and whole
// are the baseline's intervals and blocks (see normalOf); all holds at
// least every interval that ended after lastRevert, in time order. It is
// NaN, with the reason, when the load does not tell: no baseline, or fewer
// than recoveryStable intervals after the revert without a recovery among
// them (the load ended, or was stopped by an abort, right after it).
func timeToRecover(base []pulse, whole []*sample, all []pulse, lastRevert time.Duration) (float64, string) {
	if len(base) == 0 {
		return math.NaN(), "the baseline phase has no intervals to define normal"
	}
	n := normalOf(base, whole)
	run, after := 0, 0
	for i, p := range all {
		if p.end <= lastRevert {
			continue
		}
		after++
		if !n.holds(p) {
			run = 0
			continue
		}
		run++
		if run == recoveryStable {
			first := all[i-recoveryStable+1]
			return math.Max(0, float64(first.start-lastRevert)), ""
		}
	}
	if after < recoveryStable {
		return math.NaN(), fmt.Sprintf("the load ended %d interval(s) after the last revert, and recovery needs %d in a row back to normal, so the run cannot tell", after, recoveryStable)
	}
	return math.Inf(1), ""
}
