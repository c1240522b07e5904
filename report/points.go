package report

import (
	"time"

	"github.com/faultline-dev/faultline/loadgen"
)

// maxPlotPoints bounds the points of a plot over time: the HTML's plots are
// 10 inches wide, under 1000 pixels, so more points would not show. A run of
// up to this many intervals is drawn one point per interval; a longer one
// one point per run of ceil(intervals / maxPlotPoints) consecutive intervals
// merged exactly, so a point's percentiles are those of its intervals'
// merged histograms, not averages, and its rates are over its whole span.
const maxPlotPoints = 1000

// plotPoint is what the plots over time draw of consecutive intervals
// merged: their span, counts, and percentiles of every request's latency.
type plotPoint struct {
	start, end                   time.Time
	completed, failed, scheduled int64
	// latencies is how many latencies the point holds; p50, p99 and max
	// are their percentiles (nanoseconds).
	latencies     int64
	p50, p99, max int64
}

func (p *plotPoint) duration() time.Duration { return p.end.Sub(p.start) }

// plotPoints are the points of the run's plots over time, read on first
// use: one more read of a run from a file, holding one point's merged
// histogram at a time.
func (r *Run) plotPoints() ([]plotPoint, error) {
	a := r.aggregate()
	if a.points != nil || a.count == 0 {
		return a.points, nil
	}
	per := (a.count + maxPlotPoints - 1) / maxPlotPoints
	points := make([]plotPoint, 0, (a.count+per-1)/per)
	var (
		cur plotPoint
		n   int
	)
	// One dense histogram, reset for each point, merges its intervals:
	// adding sparse histograms one into another would allocate a new one
	// per interval.
	latency := loadgen.NewHistogram()
	flush := func() {
		cur.latencies = latency.TotalCount()
		cur.p50, cur.p99 = latency.ValueAtPercentile(50), latency.ValueAtPercentile(99)
		cur.max = latency.Max()
		points = append(points, cur)
		latency.Reset()
		n = 0
	}
	err := r.intervals(false, func(iv *Interval, _ int) error {
		for k := range iv.Series {
			iv.Series[k].Latency.RecordInto(latency, engine)
		}
		if n == 0 {
			cur = plotPoint{start: iv.Start, end: iv.End}
		} else {
			// As loadgen.Stats.Merge widens a span.
			if iv.Start.Before(cur.start) {
				cur.start = iv.Start
			}
			if iv.End.After(cur.end) {
				cur.end = iv.End
			}
		}
		cur.completed += iv.Completed("")
		cur.failed += iv.Failed("")
		cur.scheduled += iv.Scheduled
		if n++; n == per {
			flush()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if n > 0 {
		flush()
	}
	a.points = points
	return points, nil
}
