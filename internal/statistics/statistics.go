// Package statistics holds the statistics faultline's verdicts rest on:
// quantiles of a sample, and bootstrap confidence intervals of a statistic
// of several groups resampled independently (the difference of a metric
// between two phases or two runs). The units resampled are whole intervals
// of load, or blocks of consecutive intervals, never single requests, so
// that the correlation of requests close in time is kept.
//
// The judge of hypotheses (experiments) and the comparison of runs
// (report) both draw their intervals here.
package statistics

import (
	"math"
	"math/rand/v2"
	"sort"
)

// Quantile returns the q-quantile (0 <= q <= 1) of sorted values,
// interpolating linearly between neighbours (type 7 of Hyndman and Fan,
// what R and NumPy use by default). It returns NaN for no values.
func Quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	if lo < 0 {
		return sorted[0]
	}
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	frac := pos - float64(lo)
	return sorted[lo] + frac*(sorted[lo+1]-sorted[lo])
}

// QuantileOf is Quantile of values in any order; values is not changed.
func QuantileOf(values []float64, q float64) float64 {
	sorted := append([]float64(nil), values...)
	sort.Float64s(sorted)
	return Quantile(sorted, q)
}

// Interval bounds a quantity at some confidence.
type Interval struct {
	Low, High float64
}

// Excludes reports whether v lies outside the interval.
func (i Interval) Excludes(v float64) bool { return i.Low > v || i.High < v }

// Draws are the values one statistic took over the rounds of a bootstrap,
// sorted, without the rounds where it was undefined (NaN).
type Draws struct {
	Values []float64
	Rounds int
}

// Enough reports whether at least half the rounds had a value: with fewer,
// the resamples mostly missed the data and their spread means nothing.
func (d Draws) Enough() bool { return len(d.Values) > 0 && len(d.Values) >= d.Rounds/2 }

// Interval is the percentile interval of the draws at the given confidence
// (0.95 takes the 2.5th and 97.5th percentiles).
func (d Draws) Interval(confidence float64) Interval {
	alpha := 1 - confidence
	return Interval{Low: Quantile(d.Values, alpha/2), High: Quantile(d.Values, 1-alpha/2)}
}

// Bootstrap draws resamples with replacement.
type Bootstrap struct {
	// Rounds is the number of resamples.
	Rounds int
	// Rand is the source of the draws: the same seed gives the same
	// intervals, so reports are reproducible.
	Rand *rand.Rand
}

// Run resamples several groups of units independently. In each round, for
// every group in order, it draws as many unit indexes as the group has
// (sizes[g]), uniformly with replacement, and stat computes k statistics of
// that round into out (NaN where a statistic is undefined). Run returns the
// draws of each of the k statistics.
func (b Bootstrap) Run(sizes []int, k int, stat func(picks [][]int, out []float64)) []Draws {
	picks := make([][]int, len(sizes))
	for g, n := range sizes {
		picks[g] = make([]int, n)
	}
	draws := make([]Draws, k)
	for i := range draws {
		draws[i] = Draws{Values: make([]float64, 0, b.Rounds), Rounds: b.Rounds}
	}
	out := make([]float64, k)
	for range b.Rounds {
		for g, n := range sizes {
			for i := range picks[g] {
				picks[g][i] = b.Rand.IntN(n)
			}
		}
		for i := range out {
			out[i] = math.NaN()
		}
		stat(picks, out)
		for i, v := range out {
			if !math.IsNaN(v) {
				draws[i].Values = append(draws[i].Values, v)
			}
		}
	}
	for i := range draws {
		sort.Float64s(draws[i].Values)
	}
	return draws
}

// Difference bootstraps stat(next) - stat(base): the units of each side
// are resampled independently, base first.
func Difference[T any](b Bootstrap, base, next []T, stat func([]T) float64) Draws {
	rb, rn := make([]T, len(base)), make([]T, len(next))
	return b.Run([]int{len(base), len(next)}, 1, func(picks [][]int, out []float64) {
		for i, j := range picks[0] {
			rb[i] = base[j]
		}
		for i, j := range picks[1] {
			rn[i] = next[j]
		}
		out[0] = stat(rn) - stat(rb)
	})[0]
}

// Blocks cuts units into at most n blocks of consecutive units, each as
// long as the first (the last may be shorter). A bootstrap over blocks
// costs the same however long the run, and keeps the correlation of
// neighbouring units.
func Blocks[T any](units []T, n int) [][]T {
	if len(units) == 0 || n <= 0 {
		return nil
	}
	per := (len(units) + n - 1) / n
	out := make([][]T, 0, n)
	for i := 0; i < len(units); i += per {
		out = append(out, units[i:min(i+per, len(units))])
	}
	return out
}
