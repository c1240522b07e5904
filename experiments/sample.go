package experiments

import (
	"time"

	"github.com/faultline-dev/faultline/internal/metric"
	"github.com/faultline-dev/faultline/loadgen"
)

// counts is what one interval holds for one request name (or all).
type counts struct {
	completed, failed int64
	latency, service  metric.Buckets
}

// sample is one interval of the load, kept compactly for the judgement of
// hypotheses: per request name (and "" for all requests) its counts and
// sparse latency and service time, plus the send lag and the schedule's
// counts.
type sample struct {
	start, end         time.Time
	byName             map[string]*counts
	lag                metric.Buckets
	scheduled, dropped int64
	targetRate         float64 // the rate the schedule asked for
}

func sampleOf(st *loadgen.Stats, targetRate float64) *sample {
	s := &sample{
		start: st.Start, end: st.End, byName: map[string]*counts{},
		lag: metric.BucketsOf(st.SendLag), scheduled: st.Scheduled, dropped: st.Dropped, targetRate: targetRate,
	}
	for _, name := range append([]string{""}, st.Names()...) {
		s.byName[name] = &counts{
			completed: st.Completed(name), failed: st.Failed(name),
			latency: metric.BucketsOf(st.Latency(name)), service: metric.BucketsOf(st.Service(name)),
		}
	}
	return s
}

func (s *sample) seconds() float64 { return s.end.Sub(s.start).Seconds() }
