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

// sample is one interval of the load, or a block of consecutive intervals
// merged exactly, kept compactly for the judgement of hypotheses: per
// request name (and "" for all requests) its counts and sparse latency and
// service time, plus the send lag and the schedule's counts. The runner
// keeps only the histograms some condition reads (see retained); a
// histogram not kept is empty.
type sample struct {
	start, end         time.Time
	byName             map[string]*counts
	lag                metric.Buckets
	scheduled, dropped int64
	// length is the time the intervals span, summed (end - start for one
	// interval); targetSeconds the sum over them of the rate the schedule
	// asked for times their length.
	length        time.Duration
	targetSeconds float64
	// intervals is how many intervals the sample merges (1 until the
	// runner merges blocks of a long phase; see blockList).
	intervals int
}

// retained says which histograms of an interval the runner keeps: those
// some condition of the plan reads (hypotheses, abort conditions, metric
// probes) and the latency of all requests, which the summary prints. The
// others cost memory and time and change no figure: a metric reads only
// the histogram it names, of the request name it names.
type retained struct {
	all              bool // every histogram (tests)
	lag              bool
	latency, service map[string]bool // by request name, "" for all
}

// retainedOf lists the histograms the conditions of plan read.
func retainedOf(plan *Plan) retained {
	k := retained{latency: map[string]bool{"": true}, service: map[string]bool{}}
	conds := append([]*Condition(nil), plan.Abort...)
	for _, p := range plan.Phases {
		conds = append(conds, p.Hypotheses...)
	}
	for _, p := range plan.SteadyState {
		if p.Expect != nil {
			conds = append(conds, p.Expect)
		}
	}
	for _, c := range conds {
		for _, r := range c.Refs() {
			switch r.m.Histogram {
			case metric.Latency:
				k.latency[r.request] = true
			case metric.Service:
				k.service[r.request] = true
			case metric.Lag:
				k.lag = true
			}
		}
	}
	return k
}

// sampleOf keeps every histogram of st: tests judge such samples.
func sampleOf(st *loadgen.Stats, targetRate float64) *sample {
	return retained{all: true}.sampleOf(st, targetRate)
}

// sampleOf keeps the counts of st and the histograms k names.
func (k retained) sampleOf(st *loadgen.Stats, targetRate float64) *sample {
	s := &sample{
		start: st.Start, end: st.End, byName: map[string]*counts{},
		scheduled: st.Scheduled, dropped: st.Dropped, length: st.End.Sub(st.Start), intervals: 1,
	}
	s.targetSeconds = targetRate * s.seconds()
	if k.all || k.lag {
		s.lag = metric.BucketsOf(st.SendLag)
	}
	for _, name := range append([]string{""}, st.Names()...) {
		c := &counts{completed: st.Completed(name), failed: st.Failed(name)}
		if k.all || k.latency[name] {
			c.latency = metric.BucketsOf(st.Latency(name))
		}
		if k.all || k.service[name] {
			c.service = metric.BucketsOf(st.Service(name))
		}
		s.byName[name] = c
	}
	return s
}

func (s *sample) seconds() float64 { return s.length.Seconds() }

// merged is the exact merge of a and b, consecutive blocks of one phase (a
// first): histograms added, counts and lengths summed, from the start of a
// to the end of b. Neither is changed.
func merged(a, b *sample) *sample {
	m := &sample{
		start: a.start, end: b.end, byName: make(map[string]*counts, max(len(a.byName), len(b.byName))),
		lag: metric.Sum([]*metric.Buckets{&a.lag, &b.lag}), scheduled: a.scheduled + b.scheduled, dropped: a.dropped + b.dropped,
		length: a.length + b.length, targetSeconds: a.targetSeconds + b.targetSeconds, intervals: a.intervals + b.intervals,
	}
	for _, x := range []*sample{a, b} {
		for name := range x.byName {
			if m.byName[name] != nil {
				continue
			}
			ca, cb := a.byName[name], b.byName[name]
			switch {
			case ca == nil:
				m.byName[name] = cb
			case cb == nil:
				m.byName[name] = ca
			default:
				m.byName[name] = &counts{
					completed: ca.completed + cb.completed, failed: ca.failed + cb.failed,
					latency: metric.Sum([]*metric.Buckets{&ca.latency, &cb.latency}),
					service: metric.Sum([]*metric.Buckets{&ca.service, &cb.service}),
				}
			}
		}
	}
	return m
}
