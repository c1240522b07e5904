package metric

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// newHistogram has the load generator's geometry (loadgen.NewHistogram),
// which BucketWidth assumes.
func newHistogram() *hdrhistogram.Histogram { return hdrhistogram.New(1, int64(time.Hour), 3) }

func TestBucketsMatchHdr(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	h := newHistogram()
	for i := 0; i < 50000; i++ {
		_ = h.RecordValue(int64(math.Exp(rng.NormFloat64()*1.5) * 1e6))
	}
	b := BucketsOf(h)
	m := Sum([]*Buckets{&b})
	for _, p := range []float64{1, 50, 90, 99, 99.9, 99.99, 100} {
		if got, want := m.Percentile(p), float64(h.ValueAtPercentile(p)); got != want {
			t.Errorf("p%v = %v, HdrHistogram says %v", p, got, want)
		}
	}
	if got, want := m.Max(), float64(h.Max()); got != want {
		t.Errorf("max %v, want %v", got, want)
	}
	if got, want := m.Min(), float64(h.Min()); got != want {
		t.Errorf("min %v, want %v", got, want)
	}
	if got, want := m.Mean(), h.Mean(); math.Abs(got-want) > want*1e-9 {
		t.Errorf("mean %v, want %v", got, want)
	}
	if got, want := m.StdDev(), h.StdDev(); math.Abs(got-want) > want*1e-9 {
		t.Errorf("stdev %v, want %v", got, want)
	}
}

func TestSumAddsCounts(t *testing.T) {
	t.Parallel()
	a, b := newHistogram(), newHistogram()
	_ = a.RecordValues(1000, 3)
	_ = b.RecordValues(1000, 2)
	_ = b.RecordValues(5000, 1)
	ba, bb := BucketsOf(a), BucketsOf(b)
	m := Sum([]*Buckets{&ba, &bb})
	if m.Total != 6 || len(m.Values) != 2 || m.Counts[0] != 5 || m.Counts[1] != 1 {
		t.Errorf("Sum = %+v, want 5 at 1000 and 1 at 5000", m)
	}
	var empty Buckets
	if !math.IsNaN(empty.Percentile(50)) || !math.IsNaN(empty.Mean()) || (*Buckets)(nil).Count() != 0 {
		t.Error("an empty histogram has no percentile or mean, and a nil one counts nothing")
	}
}

// TestSumDenseIsSumMap: the array Sum adds in gives what the map gives,
// bucket for bucket, and values outside the geometry go to the map.
func TestSumDenseIsSumMap(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	var parts []*Buckets
	for i := 0; i < 20; i++ {
		h := newHistogram()
		for k := 0; k < 500; k++ {
			_ = h.RecordValue(min(int64(math.Exp(rng.NormFloat64()*3)*1e5), int64(time.Hour)))
		}
		_ = h.RecordValue(int64(i)) // exact values below 2048 too
		b := BucketsOf(h)
		parts = append(parts, &b)
	}
	parts = append(parts, &Buckets{})
	dense, ok := sumDense(parts)
	if !ok {
		t.Fatal("sumDense refused histograms of the load generator's geometry")
	}
	if want := sumMap(parts); !reflect.DeepEqual(dense, want) {
		t.Errorf("sumDense: %d buckets, %d values; sumMap: %d buckets, %d values", len(dense.Values), dense.Total, len(want.Values), want.Total)
	}
	for _, odd := range [][]*Buckets{
		{{Values: []int64{4096, 4097}, Counts: []int64{1, 1}, Total: 2}}, // one bucket, two values
		{{Values: []int64{5000, 1000}, Counts: []int64{1, 1}, Total: 2}}, // out of order
		{{Values: []int64{-5, 10}, Counts: []int64{1, 1}, Total: 2}},
	} {
		if _, ok := sumDense(odd); ok {
			t.Errorf("sumDense took %v", odd[0].Values)
		}
		if got, want := Sum(odd), sumMap(odd); !reflect.DeepEqual(got, want) {
			t.Errorf("Sum(%v) = %+v, want %+v", odd[0].Values, got, want)
		}
	}
	if got, want := Sum(nil), sumMap(nil); !reflect.DeepEqual(got, want) {
		t.Errorf("Sum(nil) = %+v, want %+v", got, want)
	}
}
