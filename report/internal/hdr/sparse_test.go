package hdr

import (
	"math/rand"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// TestCodecMatchesHdrHistogram checks that the codec reads what
// hdrhistogram encodes, writes the same bytes back, and that Sparse's
// statistics are the dense histogram's, for empty, tiny and wide
// distributions.
func TestCodecMatchesHdrHistogram(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(7))
	const lowest, highest, digits = 1, 3_600_000_000_000, 3
	codec := NewCodec(GeometryOf(hdrhistogram.New(lowest, highest, digits)), lowest, highest, digits)
	for i, fill := range []func(h *hdrhistogram.Histogram){
		func(h *hdrhistogram.Histogram) {},
		func(h *hdrhistogram.Histogram) { _ = h.RecordValue(1) },
		func(h *hdrhistogram.Histogram) { _ = h.RecordValue(2047); _ = h.RecordValue(2049) },
		func(h *hdrhistogram.Histogram) { _ = h.RecordValues(highest, 3); _ = h.RecordValue(5) },
		func(h *hdrhistogram.Histogram) {
			for range 5000 {
				_ = h.RecordValue(int64(rng.ExpFloat64()*3e6) + 400_000)
			}
		},
		func(h *hdrhistogram.Histogram) {
			for range 20000 {
				_ = h.RecordValues(int64(rng.Float64()*1e10)+1, int64(rng.Intn(1000)+1))
			}
		},
	} {
		h := hdrhistogram.New(lowest, highest, digits)
		fill(h)
		enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			t.Fatal(err)
		}
		var s Sparse
		if err := codec.Decode(string(enc), &s); err != nil {
			t.Fatalf("case %d: decode: %v", i, err)
		}
		if s.Total != h.TotalCount() {
			t.Fatalf("case %d: total %d, want %d", i, s.Total, h.TotalCount())
		}
		back, err := codec.Encode(&s)
		if err != nil {
			t.Fatal(err)
		}
		if back != string(enc) {
			t.Errorf("case %d: re-encoded bytes differ from hdrhistogram's", i)
		}
		got := s.Summarize(codec.Geometry)
		want := Stats{Count: h.TotalCount(), Min: h.Min(), Max: h.Max(), Mean: h.Mean(), StdDev: h.StdDev(),
			P50: h.ValueAtPercentile(50), P90: h.ValueAtPercentile(90), P99: h.ValueAtPercentile(99),
			P999: h.ValueAtPercentile(99.9), P9999: h.ValueAtPercentile(99.99)}
		if h.TotalCount() == 0 {
			want = Stats{}
		}
		if got != want {
			t.Errorf("case %d: statistics\n got %+v\nwant %+v", i, got, want)
		}
		dense := hdrhistogram.New(lowest, highest, digits)
		s.RecordInto(dense, codec.Geometry)
		if !dense.Equals(h) {
			t.Errorf("case %d: RecordInto does not rebuild the histogram", i)
		}
		var sum Sparse
		sum.Add(&s)
		sum.Add(&s)
		h.Merge(h.Clone())
		if m := sum.Summarize(codec.Geometry); h.TotalCount() > 0 && (m.Count != h.TotalCount() || m.P99 != h.ValueAtPercentile(99)) {
			t.Errorf("case %d: Add is not Merge", i)
		}
	}
	other := hdrhistogram.New(1000, 60_000_000_000, 2)
	_ = other.RecordValue(5000)
	enc, _ := other.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	var s Sparse
	if err := codec.Decode(string(enc), &s); err != ErrOtherGeometry {
		t.Errorf("another geometry: err %v, want ErrOtherGeometry", err)
	}
}

func BenchmarkCodecDecode(b *testing.B) {
	const lowest, highest, digits = 1, 3_600_000_000_000, 3
	h := hdrhistogram.New(lowest, highest, digits)
	rng := rand.New(rand.NewSource(1))
	for range 1000 {
		_ = h.RecordValue(int64(rng.ExpFloat64()*2e6) + 500_000)
	}
	enc, _ := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	codec := NewCodec(GeometryOf(h), lowest, highest, digits)
	var s Sparse
	for b.Loop() {
		_ = codec.Decode(string(enc), &s)
	}
}

func BenchmarkCodecEncode(b *testing.B) {
	const lowest, highest, digits = 1, 3_600_000_000_000, 3
	h := hdrhistogram.New(lowest, highest, digits)
	rng := rand.New(rand.NewSource(1))
	for range 1000 {
		_ = h.RecordValue(int64(rng.ExpFloat64()*2e6) + 500_000)
	}
	codec := NewCodec(GeometryOf(h), lowest, highest, digits)
	s := SparseOf(h, codec.Geometry)
	for b.Loop() {
		_, _ = codec.Encode(&s)
	}
}
