// Package hdr derives HdrHistogram's bucket layout, which the .hgrm
// writer and plots of report and the bootstrap of report/compare need and
// the hdrhistogram package does not export.
package hdr

import (
	"math"
	"math/bits"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Geometry is HdrHistogram's bucket layout, derived exactly as the Java and
// Go implementations derive it, so that counts indexes map to the same values.
type Geometry struct {
	unitMagnitude               int
	subBucketHalfCountMagnitude int
	subBucketHalfCount          int
	// SubBuckets and Buckets are the sizes HdrHistogram's .hgrm footer
	// reports.
	SubBuckets int
	Buckets    int
}

// GeometryOf is the bucket layout of h.
func GeometryOf(h *hdrhistogram.Histogram) Geometry {
	return GeometryFor(h.LowestTrackableValue(), h.HighestTrackableValue(), int(h.SignificantFigures()))
}

// GeometryFor is the bucket layout of a histogram made with
// hdrhistogram.New(lowest, highest, digits), without making one (its
// counts are 270 kB for the engine's geometry).
func GeometryFor(lowest, highest int64, digits int) Geometry {
	largestSingleUnit := 2 * int64(math.Pow10(digits))
	subBucketCountMagnitude := int(math.Ceil(math.Log2(float64(largestSingleUnit))))
	halfMag := max(subBucketCountMagnitude, 1) - 1
	g := Geometry{
		unitMagnitude:               max(0, 63-bits.LeadingZeros64(uint64(max(lowest, 1)))),
		subBucketHalfCountMagnitude: halfMag,
		SubBuckets:                  1 << (halfMag + 1),
	}
	g.subBucketHalfCount = g.SubBuckets / 2
	smallestUntrackable := int64(g.SubBuckets) << g.unitMagnitude
	g.Buckets = 1
	for smallestUntrackable <= highest {
		if smallestUntrackable > math.MaxInt64/2 {
			g.Buckets++
			break
		}
		smallestUntrackable <<= 1
		g.Buckets++
	}
	return g
}

// ValueAt is the lowest value that counts index i holds, and width the size
// of its range of equivalent values.
func (g Geometry) ValueAt(i int) (value, width int64) {
	bucket := (i >> g.subBucketHalfCountMagnitude) - 1
	sub := (i & (g.subBucketHalfCount - 1)) + g.subBucketHalfCount
	if bucket < 0 {
		sub -= g.subBucketHalfCount
		bucket = 0
	}
	return int64(sub) << (bucket + g.unitMagnitude), int64(1) << (g.unitMagnitude + bucket)
}

// CountsLen is the length of the counts array of this geometry.
func (g Geometry) CountsLen() int { return (g.Buckets + 1) * g.subBucketHalfCount }
