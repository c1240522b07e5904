package experiments

import (
	"math"
	"math/bits"
	"sort"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/faultline-dev/faultline/loadgen"
)

// sparse is a histogram as its populated buckets: each bucket's lowest value
// and count, ascending. A run keeps one per interval and request name, which
// costs a few kilobytes where a dense histogram costs hundreds.
type sparse struct {
	values, counts []int64
	total          int64
}

func sparseOf(h *hdrhistogram.Histogram) sparse {
	var s sparse
	if h.TotalCount() == 0 {
		return s
	}
	p := hdrhistogram.NewPacked(loadgen.HistLowest, loadgen.HistHighest, loadgen.HistSigFigs)
	p.MergeFrom(h)
	p.ForEachBucket(func(v, c int64) bool {
		s.values = append(s.values, v)
		s.counts = append(s.counts, c)
		s.total += c
		return true
	})
	return s
}

// bucketWidth is the size of the range of values equivalent to v in the
// engine's histogram geometry (1 ns lowest, 3 significant digits: 2048
// sub-buckets, so values below 2048 are exact and each octave above doubles
// the width).
func bucketWidth(v int64) int64 {
	octave := bits.Len64(uint64(v)|2047) - 11
	return int64(1) << octave
}

// merged is several sparse histograms added together.
type merged struct {
	values, counts []int64
	total          int64
}

func mergeSparse(parts []*sparse) merged {
	acc := map[int64]int64{}
	var m merged
	for _, p := range parts {
		for i, v := range p.values {
			acc[v] += p.counts[i]
		}
		m.total += p.total
	}
	m.values = make([]int64, 0, len(acc))
	for v := range acc {
		m.values = append(m.values, v)
	}
	sort.Slice(m.values, func(i, j int) bool { return m.values[i] < m.values[j] })
	m.counts = make([]int64, len(m.values))
	for i, v := range m.values {
		m.counts[i] = acc[v]
	}
	return m
}

// percentile follows hdrhistogram-go's ValueAtPercentile exactly, so that
// verdicts and reports print the same figures: the highest value equivalent
// to the bucket holding the sample at rank p/100 * total, rounded to the
// nearest whole rank (at least 1, at most total).
func (m merged) percentile(p float64) float64 {
	if m.total == 0 {
		return math.NaN()
	}
	rank := int64(min(max(p/100*float64(m.total)+0.5, 1), float64(m.total)))
	var cum int64
	for i, c := range m.counts {
		cum += c
		if cum >= rank {
			return float64(m.values[i] + bucketWidth(m.values[i]) - 1)
		}
	}
	last := m.values[len(m.values)-1]
	return float64(last + bucketWidth(last) - 1)
}

// mean follows HdrHistogram: each bucket counts at its median equivalent value.
func (m merged) mean() float64 {
	if m.total == 0 {
		return math.NaN()
	}
	var sum float64
	for i, v := range m.values {
		sum += float64(m.counts[i]) * float64(v+bucketWidth(v)/2)
	}
	return sum / float64(m.total)
}

func (m merged) stdev() float64 {
	if m.total == 0 {
		return math.NaN()
	}
	mu := m.mean()
	var sq float64
	for i, v := range m.values {
		d := float64(v+bucketWidth(v)/2) - mu
		sq += d * d * float64(m.counts[i])
	}
	return math.Sqrt(sq / float64(m.total))
}

func (m merged) max() float64 {
	if m.total == 0 {
		return math.NaN()
	}
	v := m.values[len(m.values)-1]
	return float64(v + bucketWidth(v) - 1)
}

func (m merged) min() float64 {
	if m.total == 0 {
		return math.NaN()
	}
	return float64(m.values[0])
}

// counts is what one interval holds for one request name (or all).
type counts struct {
	completed, failed int64
	latency, service  sparse
}

// sample is one interval of the load, kept compactly for the judgement of
// hypotheses: per request name (and "" for all requests) its counts and
// sparse latency and service time, plus the send lag and the schedule's
// counts.
type sample struct {
	start, end         time.Time
	byName             map[string]*counts
	lag                sparse
	scheduled, dropped int64
	targetRate         float64 // the rate the schedule asked for
}

func sampleOf(st *loadgen.Stats, targetRate float64) *sample {
	s := &sample{
		start: st.Start, end: st.End, byName: map[string]*counts{},
		lag: sparseOf(st.SendLag), scheduled: st.Scheduled, dropped: st.Dropped, targetRate: targetRate,
	}
	for _, name := range append([]string{""}, st.Names()...) {
		s.byName[name] = &counts{
			completed: st.Completed(name), failed: st.Failed(name),
			latency: sparseOf(st.Latency(name)), service: sparseOf(st.Service(name)),
		}
	}
	return s
}

func (s *sample) seconds() float64 { return s.end.Sub(s.start).Seconds() }
