package metric

import "math"

// Tally is what metrics are computed from: the counts and histograms of a
// span of load (one interval or several) for one request name. Scheduled,
// Dropped, TargetSeconds and Lag are the load's as a whole. A histogram a
// metric does not read may be nil.
type Tally struct {
	Completed, Failed  int64
	Scheduled, Dropped int64
	// Seconds is the length of the span; TargetSeconds the sum over its
	// intervals of the schedule's rate times their length.
	Seconds, TargetSeconds float64
	Latency, Service, Lag  Distribution
}

// Of computes the metric over a tally. It is NaN where the metric has no
// value: a latency or error rate of no requests, a rate over no time.
func (m Metric) Of(t *Tally) float64 {
	switch m.stat {
	case statErrorRate:
		return ratio(float64(t.Failed), float64(t.Completed), math.NaN())
	case statRate:
		return ratio(float64(t.Completed), t.Seconds, math.NaN())
	case statTarget:
		return ratio(t.TargetSeconds, t.Seconds, math.NaN())
	case statRequests:
		return float64(t.Completed)
	case statErrors:
		return float64(t.Failed)
	case statDropped:
		return float64(t.Dropped)
	case statDroppedRate:
		return ratio(float64(t.Dropped), float64(t.Scheduled), 0)
	}
	d := t.distribution(m.Histogram)
	if d == nil || d.Count() == 0 {
		return math.NaN()
	}
	switch m.stat {
	case statMean:
		return d.Mean()
	case statMin:
		return d.Min()
	case statMax:
		return d.Max()
	case statStdDev:
		return d.StdDev()
	default:
		return d.Percentile(m.Percentile)
	}
}

func (t *Tally) distribution(h Histogram) Distribution {
	switch h {
	case Latency:
		return t.Latency
	case Service:
		return t.Service
	case Lag:
		return t.Lag
	}
	return nil
}

// ratio is a/b, or none when b is zero.
func ratio(a, b, none float64) float64 {
	if b == 0 {
		return none
	}
	return a / b
}
