package live

import (
	"math"
	"math/bits"
	"sort"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// Schema is the native histograms' resolution: schema 3 has 8 buckets per
// power of two, each bucket's upper bound Factor times its lower one. A
// quantile read from these histograms (PromQL histogram_quantile) is within
// that factor of faultline's own, which comes from HdrHistograms at three
// significant digits.
const Schema = 3

// Factor is the growth factor between neighbouring native buckets, 2^(2^-Schema).
var Factor = math.Exp2(math.Exp2(-Schema))

// zeroThreshold is client_golang's default: latencies are never that small,
// so the zero bucket stays empty.
const zeroThreshold = 2.938735877055719e-39

// ClassicBuckets are the upper bounds (seconds) of the classic buckets,
// served beside the native ones for dashboards and Prometheus servers that
// do not take native histograms.
var ClassicBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// nativeBounds are the fractions (as math.Frexp returns them) where the
// native buckets of one power of two end.
var nativeBounds = func() []float64 {
	b := make([]float64, 1<<Schema)
	for i := range b {
		b[i] = math.Exp2(float64(i)/float64(len(b)) - 1)
	}
	return b
}()

// nativeKey is the index of the native bucket holding v (> 0): bucket k
// covers (Factor^(k-1), Factor^k].
func nativeKey(v float64) int {
	frac, exp := math.Frexp(v)
	return sort.SearchFloat64s(nativeBounds, frac) + (exp-1)*len(nativeBounds)
}

// histogram is a cumulative latency histogram in seconds, kept both as
// native (exponential) buckets and as classic ones. It grows by whole
// HdrHistograms, one interval at a time, so its cost is per interval and
// per distinct recorded value, never per request.
type histogram struct {
	count   uint64
	sum     float64
	classic []uint64 // per ClassicBuckets bound, not cumulative
	native  map[int]uint64
}

func newHistogram() *histogram {
	return &histogram{classic: make([]uint64, len(ClassicBuckets)), native: map[int]uint64{}}
}

// add adds the values of h, in nanoseconds.
func (x *histogram) add(h *hdrhistogram.Histogram) {
	if h == nil || h.TotalCount() == 0 {
		return
	}
	forEachBar(h, func(lo, hi, n int64) {
		// The bar's highest value is the one HdrHistogram reports for a
		// percentile that falls in it; the midpoint makes the sum exact
		// to the bar's width.
		v := float64(hi) / 1e9
		c := uint64(n)
		x.count += c
		x.sum += float64(n) * float64(lo+hi) / 2 / 1e9
		x.native[nativeKey(v)] += c
		if i := sort.SearchFloat64s(ClassicBuckets, v); i < len(ClassicBuckets) {
			x.classic[i] += c
		}
	})
}

// forEachBar calls fn with the lowest and highest value and the count of
// every bucket of h that holds values. It gathers h's populated buckets
// into a packed histogram (MergeFrom reads the counts in place) and works
// out each bucket's width from HdrHistogram's layout: Export would copy
// the whole dense counts array (270 kB in the engine's geometry) of every
// histogram every interval, and Distribution builds a bar for every bucket
// up to the largest value.
func forEachBar(h *hdrhistogram.Histogram, fn func(lo, hi, n int64)) {
	digits := int(h.SignificantFigures())
	p := hdrhistogram.NewPacked(h.LowestTrackableValue(), h.HighestTrackableValue(), digits)
	p.MergeFrom(h)
	// The layout: sub-buckets of 2^halfMag values per bucket half, each
	// bucket twice as wide as the one before, the first starting at the
	// lowest discernible value's power of two.
	largest := 2 * math.Pow10(digits)
	halfMag := int(math.Ceil(math.Log2(largest))) - 1
	unitMag := int(math.Floor(math.Log2(float64(h.LowestTrackableValue()))))
	p.ForEachBucket(func(lo, n int64) bool {
		bucket := max(0, bits.Len64(uint64(lo)>>unitMag)-halfMag-1)
		fn(lo, lo+int64(1)<<(bucket+unitMag)-1, n)
		return true
	})
}

// write fills m's histogram: classic buckets cumulative, native buckets as
// spans and deltas.
func (x *histogram) write(m *dto.Metric) {
	h := &dto.Histogram{
		SampleCount:   proto.Uint64(x.count),
		SampleSum:     proto.Float64(x.sum),
		Schema:        proto.Int32(Schema),
		ZeroThreshold: proto.Float64(zeroThreshold),
		ZeroCount:     proto.Uint64(0),
	}
	var cum uint64
	for i, bound := range ClassicBuckets {
		cum += x.classic[i]
		h.Bucket = append(h.Bucket, &dto.Bucket{UpperBound: proto.Float64(bound), CumulativeCount: proto.Uint64(cum)})
	}
	h.PositiveSpan, h.PositiveDelta = spans(x.native)
	if len(h.PositiveSpan) == 0 {
		// An empty native histogram still says it is one: a span of no
		// buckets, as client_golang writes it.
		h.PositiveSpan = []*dto.BucketSpan{{Offset: proto.Int32(0), Length: proto.Uint32(0)}}
	}
	m.Histogram = h
}

// spans encodes sparse buckets as the exposition format wants them: runs
// of consecutive keys (a gap of one or two empty buckets is cheaper filled
// than opened as a new span), and each count as the difference from the
// previous one.
func spans(buckets map[int]uint64) ([]*dto.BucketSpan, []int64) {
	keys := make([]int, 0, len(buckets))
	for k := range buckets {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var (
		out    []*dto.BucketSpan
		deltas []int64
		prev   int64
		next   int // the key after the last one written
	)
	for i, k := range keys {
		gap := k - next
		switch {
		case i == 0 || gap > 2:
			offset := k
			if i > 0 {
				offset = gap
			}
			out = append(out, &dto.BucketSpan{Offset: proto.Int32(int32(offset)), Length: proto.Uint32(0)})
		default:
			for range gap { // fill the short gap with empty buckets
				deltas = append(deltas, -prev)
				prev = 0
				*out[len(out)-1].Length++
			}
		}
		c := int64(buckets[k])
		deltas = append(deltas, c-prev)
		prev = c
		*out[len(out)-1].Length++
		next = k + 1
	}
	return out, deltas
}
