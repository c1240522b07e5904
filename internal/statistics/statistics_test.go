package statistics

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestQuantile(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		sorted []float64
		q      float64
		want   float64
	}{
		{"empty", nil, 0.5, math.NaN()},
		{"one", []float64{7}, 0.975, 7},
		{"min", []float64{1, 2, 3}, 0, 1},
		{"max", []float64{1, 2, 3}, 1, 3},
		{"median odd", []float64{1, 2, 3}, 0.5, 2},
		{"median even", []float64{1, 2, 3, 4}, 0.5, 2.5},
		{"interpolated", []float64{0, 10}, 0.25, 2.5},
		// Equal neighbours give exactly their value, whatever the fraction.
		{"equal neighbours", []float64{0.1, 0.1, 0.1}, 0.3, 0.1},
	}
	for _, c := range cases {
		got := Quantile(c.sorted, c.q)
		if got != c.want && !(math.IsNaN(got) && math.IsNaN(c.want)) {
			t.Errorf("%s: Quantile(%v, %v) = %v, want %v", c.name, c.sorted, c.q, got, c.want)
		}
	}
	values := []float64{4, 1, 3, 2}
	if got := QuantileOf(values, 0.5); got != 2.5 {
		t.Errorf("QuantileOf = %v, want 2.5", got)
	}
	if !slices.Equal(values, []float64{4, 1, 3, 2}) {
		t.Errorf("QuantileOf changed its input: %v", values)
	}
}

func TestBlocks(t *testing.T) {
	t.Parallel()
	units := []int{1, 2, 3, 4, 5, 6, 7}
	cases := []struct {
		n    int
		want [][]int
	}{
		{10, [][]int{{1}, {2}, {3}, {4}, {5}, {6}, {7}}},
		{3, [][]int{{1, 2, 3}, {4, 5, 6}, {7}}},
		{1, [][]int{{1, 2, 3, 4, 5, 6, 7}}},
		{0, nil},
	}
	for _, c := range cases {
		got := Blocks(units, c.n)
		if !slices.EqualFunc(got, c.want, func(a, b []int) bool { return slices.Equal(a, b) }) {
			t.Errorf("Blocks(%v, %d) = %v, want %v", units, c.n, got, c.want)
		}
	}
}

func TestDifference(t *testing.T) {
	t.Parallel()
	mean := func(xs []float64) float64 {
		var s float64
		for _, x := range xs {
			s += x
		}
		return s / float64(len(xs))
	}
	noise := rand.New(rand.NewPCG(1, 2))
	series := func(level float64) []float64 {
		out := make([]float64, 30)
		for i := range out {
			out[i] = level + noise.NormFloat64()
		}
		return out
	}
	base, same, shifted := series(10), series(10), series(13)
	b := Bootstrap{Rounds: 1000, Rand: rand.New(rand.NewPCG(3, 4))}
	if d := Difference(b, base, shifted, mean); !d.Enough() || !d.Interval(0.95).Excludes(0) || d.Interval(0.95).Low < 2 || d.Interval(0.95).High > 4 {
		t.Errorf("a shift of 3 in noise of 1: interval %+v, want one excluding 0 around 3", d.Interval(0.95))
	}
	if d := Difference(b, base, same, mean); d.Interval(0.95).Excludes(0) {
		t.Errorf("no shift: interval %+v excludes 0", d.Interval(0.95))
	}
}

func TestRunDropsUndefinedRounds(t *testing.T) {
	t.Parallel()
	b := Bootstrap{Rounds: 100, Rand: rand.New(rand.NewPCG(5, 6))}
	units := []float64{0, 0, 0, 1}
	draws := b.Run([]int{len(units)}, 2, func(picks [][]int, out []float64) {
		var sum float64
		for _, i := range picks[0] {
			sum += units[i]
		}
		out[0] = sum
		if sum > 0 {
			out[1] = 1 / sum // undefined when the resample missed the one
		}
	})
	if len(draws[0].Values) != 100 || !slices.IsSorted(draws[0].Values) {
		t.Errorf("statistic 0: %d sorted draws, want all 100", len(draws[0].Values))
	}
	// P(the 1 missed in 4 draws) = (3/4)^4 ≈ 32%: about 68 rounds defined.
	if n := len(draws[1].Values); n < 50 || n > 85 {
		t.Errorf("statistic 1: %d draws, want the rounds where it was defined (about 68)", n)
	}
	if !draws[1].Enough() {
		t.Errorf("statistic 1 defined in %d of 100 rounds: want Enough", len(draws[1].Values))
	}
	if (Draws{Values: []float64{1}, Rounds: 100}).Enough() {
		t.Error("1 draw of 100 rounds is Enough; want not")
	}
}
