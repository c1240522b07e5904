package hdr

import (
	"math"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Sparse is a histogram as its populated counts indexes, ascending, in one
// geometry (the load engine's, for every histogram faultline stores). An
// interval's histogram holds a few hundred populated buckets, so it costs a
// few kilobytes where the dense histogram costs 270 kB, and the statistics
// below walk only those buckets. Every statistic gives exactly what
// HdrHistogram's dense histogram gives for the same counts.
type Sparse struct {
	Index  []int32
	Counts []int64
	Total  int64
}

// Reset empties s, keeping its storage.
func (s *Sparse) Reset() {
	s.Index, s.Counts, s.Total = s.Index[:0], s.Counts[:0], 0
}

// SparseOf takes the populated buckets of h, whose geometry is g.
func SparseOf(h *hdrhistogram.Histogram, g Geometry) Sparse {
	var s Sparse
	if h.TotalCount() == 0 {
		return s
	}
	for i, c := range h.Export().Counts {
		if c != 0 {
			s.Index = append(s.Index, int32(i))
			s.Counts = append(s.Counts, c)
			s.Total += c
		}
	}
	return s
}

// Add merges o into s: an exact merge, as HdrHistogram's Merge of two
// histograms of the same geometry.
func (s *Sparse) Add(o *Sparse) {
	if o.Total == 0 && len(o.Index) == 0 {
		return
	}
	if len(s.Index) == 0 {
		s.Index = append(s.Index[:0], o.Index...)
		s.Counts = append(s.Counts[:0], o.Counts...)
		s.Total = o.Total
		return
	}
	index := make([]int32, 0, len(s.Index)+len(o.Index))
	counts := make([]int64, 0, len(s.Index)+len(o.Index))
	i, j := 0, 0
	for i < len(s.Index) || j < len(o.Index) {
		switch {
		case j == len(o.Index) || (i < len(s.Index) && s.Index[i] < o.Index[j]):
			index, counts = append(index, s.Index[i]), append(counts, s.Counts[i])
			i++
		case i == len(s.Index) || o.Index[j] < s.Index[i]:
			index, counts = append(index, o.Index[j]), append(counts, o.Counts[j])
			j++
		default:
			index, counts = append(index, s.Index[i]), append(counts, s.Counts[i]+o.Counts[j])
			i, j = i+1, j+1
		}
	}
	s.Index, s.Counts, s.Total = index, counts, s.Total+o.Total
}

// RecordInto adds s's counts to h, a histogram of geometry g, as
// HdrHistogram's Merge does: each bucket's count at its lowest value.
func (s *Sparse) RecordInto(h *hdrhistogram.Histogram, g Geometry) {
	for k, i := range s.Index {
		v, _ := g.ValueAt(int(i))
		_ = h.RecordValues(v, s.Counts[k])
	}
}

// Stats are the figures of a latency distribution that reports print, in
// the histogram's unit: HdrHistogram's Min, Mean, StdDev, Max and
// ValueAtPercentile, computed over the populated buckets only.
type Stats struct {
	Count               int64
	Min, Max            int64
	Mean, StdDev        float64
	P50, P90, P99, P999 int64
	P9999               int64
}

// Summarize computes the figures of s in geometry g; all zero when s is
// empty, as for an empty HdrHistogram.
func (s *Sparse) Summarize(g Geometry) Stats {
	if s.Total == 0 {
		return Stats{}
	}
	st := Stats{Count: s.Total}
	first, _ := g.ValueAt(int(s.Index[0]))
	st.Min = first
	st.Max = g.highest(int(s.Index[len(s.Index)-1]))
	total := float64(s.Total)
	for k, i := range s.Index {
		st.Mean += float64(s.Counts[k]) * float64(g.median(int(i))) / total
	}
	var dev float64
	for k, i := range s.Index {
		d := float64(g.median(int(i))) - st.Mean
		dev += (d * d) * float64(s.Counts[k]) / total
	}
	st.StdDev = math.Sqrt(dev)
	st.P50, st.P90, st.P99 = s.Percentile(g, 50), s.Percentile(g, 90), s.Percentile(g, 99)
	st.P999, st.P9999 = s.Percentile(g, 99.9), s.Percentile(g, 99.99)
	return st
}

// Percentile is HdrHistogram's ValueAtPercentile for 0 < p <= 100: the
// highest value equivalent to the bucket where the count reaches the
// nearest whole rank.
func (s *Sparse) Percentile(g Geometry, p float64) int64 {
	if s.Total == 0 {
		return 0
	}
	rank := percentileRank(min(p, 100), s.Total)
	var cum int64
	for k, c := range s.Counts {
		cum += c
		if cum >= rank {
			return g.highest(int(s.Index[k]))
		}
	}
	return g.highest(int(s.Index[len(s.Index)-1]))
}

// percentileRank is HdrHistogram's: the rank in [1, total] of percentile p.
func percentileRank(p float64, total int64) int64 {
	rank := (p/100)*float64(total) + 0.5
	if !(rank >= 1) {
		return 1
	}
	if rank >= float64(total) {
		return total
	}
	return int64(rank)
}

// MaxValue is HdrHistogram's Max: the highest value equivalent to the
// highest populated bucket, 0 when empty.
func (s *Sparse) MaxValue(g Geometry) int64 {
	if len(s.Index) == 0 {
		return 0
	}
	return g.highest(int(s.Index[len(s.Index)-1]))
}

func (g Geometry) highest(i int) int64 {
	v, w := g.ValueAt(i)
	return v + w - 1
}

func (g Geometry) median(i int) int64 {
	v, w := g.ValueAt(i)
	return v + w>>1
}
