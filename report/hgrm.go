package report

import (
	"bufio"
	"fmt"
	"io"
	"math"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/faultline-dev/faultline/report/internal/hdr"
)

// Output unit scaling ratios for nanosecond histograms.
const (
	Nanoseconds  = 1.0
	Microseconds = 1e3
	Milliseconds = 1e6
	Seconds      = 1e9
)

// DefaultTicksPerHalfDistance is HdrHistogram's default resolution of the
// percentile distribution: 5 rows per halving of the distance to 100%.
const DefaultTicksPerHalfDistance = 5

// WriteHgrm writes h's percentile distribution in the layout of HdrHistogram
// Java's outputPercentileDistribution, which HdrHistogram's online plotter
// and HistogramLogAnalyzer read: values divided by scale (Milliseconds for
// nanosecond histograms shown in ms), ticksPerHalfDistance rows per halving
// of the distance to 100%, then the mean, max and geometry footer.
func WriteHgrm(w io.Writer, h *hdrhistogram.Histogram, scale float64, ticksPerHalfDistance int) error {
	bw := bufio.NewWriter(w)
	digits := h.SignificantFigures()
	fmt.Fprintf(bw, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)")
	row := fmt.Sprintf("%%12.%df %%2.12f %%10d %%14.2f\n", digits)
	last := fmt.Sprintf("%%12.%df %%2.12f %%10d\n", digits)
	g := hdr.GeometryOf(h)
	for _, it := range percentileIteration(h, g, ticksPerHalfDistance) {
		if it.percentile != 100.0 {
			fmt.Fprintf(bw, row, float64(it.value)/scale, it.percentile/100.0, it.totalCount, 1/(1.0-(it.percentile/100.0)))
		} else {
			fmt.Fprintf(bw, last, float64(it.value)/scale, it.percentile/100.0, it.totalCount)
		}
	}
	fmt.Fprintf(bw, "#[Mean    = %12.*f, StdDeviation   = %12.*f]\n", digits, h.Mean()/scale, digits, h.StdDev()/scale)
	fmt.Fprintf(bw, "#[Max     = %12.*f, Total count    = %12d]\n", digits, float64(h.Max())/scale, h.TotalCount())
	fmt.Fprintf(bw, "#[Buckets = %12d, SubBuckets     = %12d]\n", g.Buckets, g.SubBuckets)
	return bw.Flush()
}

type iterationStep struct {
	value      int64   // highest value equivalent to the step's bucket
	percentile float64 // the percentile level iterated to
	totalCount int64   // samples up to and including the bucket
}

// percentileIteration follows HdrHistogram's PercentileIterator: it walks the
// buckets, emitting a step each time the cumulative share reaches the next
// reporting level, where levels advance by fixed ticks that halve each time
// the distance to 100% halves, and ends with one step at 100%.
func percentileIteration(h *hdrhistogram.Histogram, g hdr.Geometry, ticksPerHalfDistance int) []iterationStep {
	total := h.TotalCount()
	if total == 0 {
		return nil
	}
	counts := h.Export().Counts
	var (
		steps      []iterationStep
		level      = 0.0
		cumulative int64
	)
	lastIndex := -1
	for i, c := range counts {
		if c == 0 {
			continue
		}
		cumulative += c
		lastIndex = i
		for level < 100 && 100.0*float64(cumulative)/float64(total) >= level {
			v, w := g.ValueAt(i)
			steps = append(steps, iterationStep{value: v + w - 1, percentile: level, totalCount: cumulative})
			level = nextLevel(level, ticksPerHalfDistance)
			// Java's iterator stops stepping once every sample is counted:
			// the bucket holding the last one yields a single row.
			if cumulative == total {
				break
			}
		}
		if cumulative == total {
			break
		}
	}
	v, w := g.ValueAt(lastIndex)
	return append(steps, iterationStep{value: v + w - 1, percentile: 100.0, totalCount: total})
}

// nextLevel is PercentileIterator.incrementIterationLevel.
func nextLevel(level float64, ticksPerHalfDistance int) float64 {
	if level >= 100 {
		return math.Inf(1)
	}
	halvings := int64(math.Log(100.0/(100.0-level)) / math.Log(2))
	ticks := int64(ticksPerHalfDistance) * int64(math.Pow(2, float64(halvings+1)))
	return level + 100.0/float64(ticks)
}
