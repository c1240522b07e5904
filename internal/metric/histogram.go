package metric

import (
	"math"
	"math/bits"
	"sort"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Distribution is what a latency statistic reads: a histogram of
// nanosecond values. Its statistics are HdrHistogram's: a percentile is the
// highest value equivalent to the bucket where the cumulative count reaches
// the percentile's rank, the mean weighs each bucket at its median value.
type Distribution interface {
	Count() int64
	Percentile(p float64) float64
	Mean() float64
	StdDev() float64
	Min() float64
	Max() float64
}

// HDR is an HdrHistogram seen as a Distribution.
type HDR struct{ H *hdrhistogram.Histogram }

var _ Distribution = HDR{}

func (h HDR) Count() int64                 { return h.H.TotalCount() }
func (h HDR) Percentile(p float64) float64 { return float64(h.H.ValueAtPercentile(p)) }
func (h HDR) Mean() float64                { return h.H.Mean() }
func (h HDR) StdDev() float64              { return h.H.StdDev() }
func (h HDR) Min() float64                 { return float64(h.H.Min()) }
func (h HDR) Max() float64                 { return float64(h.H.Max()) }

// Buckets is a histogram as its populated buckets: each bucket's lowest
// value and count, ascending. A run keeps one per interval and request
// name, which costs a few kilobytes where a dense histogram costs hundreds,
// and sums them quickly for a bootstrap. Buckets assume the load
// generator's histogram geometry: 1 ns lowest, 3 significant digits.
type Buckets struct {
	Values, Counts []int64
	Total          int64
}

var _ Distribution = (*Buckets)(nil)

// BucketsOf takes the populated buckets of h.
func BucketsOf(h *hdrhistogram.Histogram) Buckets {
	var b Buckets
	if h == nil || h.TotalCount() == 0 {
		return b
	}
	p := hdrhistogram.NewPacked(h.LowestTrackableValue(), h.HighestTrackableValue(), int(h.SignificantFigures()))
	p.MergeFrom(h)
	p.ForEachBucket(func(v, c int64) bool {
		b.Values = append(b.Values, v)
		b.Counts = append(b.Counts, c)
		b.Total += c
		return true
	})
	return b
}

// BucketWidth is the size of the range of values equivalent to v in the
// load generator's histogram geometry (1 ns lowest, 3 significant digits:
// 2048 sub-buckets, so values below 2048 are exact and each octave above
// doubles the width).
func BucketWidth(v int64) int64 {
	octave := bits.Len64(uint64(v)|2047) - 11
	return int64(1) << octave
}

// Sum adds histograms together. It adds them in an array indexed by
// bucket (a bootstrap round of a long phase sums millions of buckets, ten
// times faster so than in a map), or in a map when a part holds a value
// that is not the lowest of its bucket in the load generator's geometry;
// either way the result is the same.
func Sum(parts []*Buckets) Buckets {
	if m, ok := sumDense(parts); ok {
		return m
	}
	return sumMap(parts)
}

// bucketIndex numbers v's bucket in the load generator's geometry (see
// BucketWidth): the numbers ascend with the buckets, without gaps.
func bucketIndex(v int64) int {
	octave := bits.Len64(uint64(v)|2047) - 11
	return octave<<10 + int(v>>octave)
}

// sumDense is Sum in an array over the buckets parts span; false when a
// value is negative, out of order or shares its bucket with another.
func sumDense(parts []*Buckets) (Buckets, bool) {
	lo, hi := math.MaxInt, -1
	for _, p := range parts {
		if n := len(p.Values); n > 0 {
			if p.Values[0] < 0 {
				return Buckets{}, false
			}
			first, last := bucketIndex(p.Values[0]), bucketIndex(p.Values[n-1])
			if last < first {
				return Buckets{}, false
			}
			lo, hi = min(lo, first), max(hi, last)
		}
	}
	var m Buckets
	var vals, counts []int64 // vals: value + 1 of each bucket present, 0 where none
	if hi >= 0 {
		vals, counts = make([]int64, hi-lo+1), make([]int64, hi-lo+1)
	}
	n := 0
	for _, p := range parts {
		for i, v := range p.Values {
			k := bucketIndex(v) - lo
			if v < 0 || k < 0 || k >= len(vals) {
				return Buckets{}, false
			}
			switch vals[k] {
			case 0:
				vals[k] = v + 1
				n++
			case v + 1:
			default:
				return Buckets{}, false
			}
			counts[k] += p.Counts[i]
		}
		m.Total += p.Total
	}
	m.Values, m.Counts = make([]int64, 0, n), make([]int64, 0, n)
	for k, v := range vals {
		if v != 0 {
			m.Values = append(m.Values, v-1)
			m.Counts = append(m.Counts, counts[k])
		}
	}
	return m, true
}

// sumMap is Sum in a map, for any values.
func sumMap(parts []*Buckets) Buckets {
	acc := map[int64]int64{}
	var m Buckets
	for _, p := range parts {
		for i, v := range p.Values {
			acc[v] += p.Counts[i]
		}
		m.Total += p.Total
	}
	m.Values = make([]int64, 0, len(acc))
	for v := range acc {
		m.Values = append(m.Values, v)
	}
	sort.Slice(m.Values, func(i, j int) bool { return m.Values[i] < m.Values[j] })
	m.Counts = make([]int64, len(m.Values))
	for i, v := range m.Values {
		m.Counts[i] = acc[v]
	}
	return m
}

// Reset empties b, keeping its storage.
func (b *Buckets) Reset() {
	b.Values, b.Counts, b.Total = b.Values[:0], b.Counts[:0], 0
}

// Append adds a bucket above every bucket b holds.
func (b *Buckets) Append(value, count int64) {
	b.Values = append(b.Values, value)
	b.Counts = append(b.Counts, count)
	b.Total += count
}

// Count is the number of values recorded; a nil *Buckets holds none.
func (b *Buckets) Count() int64 {
	if b == nil {
		return 0
	}
	return b.Total
}

func highest(v int64) float64 { return float64(v + BucketWidth(v) - 1) }
func median(v int64) int64    { return v + BucketWidth(v)/2 }

// Percentile follows HdrHistogram's ValueAtPercentile: the highest value
// equivalent to the bucket holding the sample at rank p/100 * total,
// rounded to the nearest whole rank (at least 1, at most total).
func (b *Buckets) Percentile(p float64) float64 {
	if b.Total == 0 {
		return math.NaN()
	}
	rank := int64(min(max(p/100*float64(b.Total)+0.5, 1), float64(b.Total)))
	var cum int64
	for i, c := range b.Counts {
		cum += c
		if cum >= rank {
			return highest(b.Values[i])
		}
	}
	return highest(b.Values[len(b.Values)-1])
}

// Mean follows HdrHistogram: each bucket counts at its median equivalent
// value. The sum is a float, where HdrHistogram's integer sum overflows
// past about ten million requests of an hour.
func (b *Buckets) Mean() float64 {
	if b.Total == 0 {
		return math.NaN()
	}
	var sum float64
	for i, v := range b.Values {
		sum += float64(b.Counts[i]) * float64(median(v))
	}
	return sum / float64(b.Total)
}

// StdDev follows HdrHistogram, around the mean of median values.
func (b *Buckets) StdDev() float64 {
	if b.Total == 0 {
		return math.NaN()
	}
	mu := b.Mean()
	var sq float64
	for i, v := range b.Values {
		d := float64(median(v)) - mu
		sq += d * d * float64(b.Counts[i])
	}
	return math.Sqrt(sq / float64(b.Total))
}

// Max is the highest value equivalent to the highest bucket.
func (b *Buckets) Max() float64 {
	if b.Total == 0 {
		return math.NaN()
	}
	return highest(b.Values[len(b.Values)-1])
}

// Min is the lowest value of the lowest bucket.
func (b *Buckets) Min() float64 {
	if b.Total == 0 {
		return math.NaN()
	}
	return float64(b.Values[0])
}
