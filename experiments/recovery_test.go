package experiments

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
)

// noisyIntervals makes n one-second intervals from start of 200 requests
// around fast, of which slowAt(i) take slow instead: a busy machine's
// occasional stalls.
func noisyIntervals(start time.Time, n int, fast, slow time.Duration, slowAt func(i int) int, rng *rand.Rand) []*sample {
	var out []*sample
	for i := 0; i < n; i++ {
		st := loadgen.NewStats(start.Add(time.Duration(i)*time.Second), start.Add(time.Duration(i+1)*time.Second))
		se := seriesFor(st, "GET /", loadgen.OK)
		for k := 0; k < 200; k++ {
			d := fast
			if k < slowAt(i) {
				d = slow
			}
			v := int64(float64(d) * (0.9 + 0.2*rng.Float64()))
			se.Status[200]++
			_ = se.Latency.RecordValue(v)
			_ = se.Service.RecordValue(v)
		}
		out = append(out, sampleOf(st, 200))
	}
	return out
}

// pulsesOf is what the runner keeps of each interval for time_to_recover.
func pulsesOf(ss []*sample, loadStart time.Time) []pulse {
	out := make([]pulse, len(ss))
	for i, s := range ss {
		out[i] = pulseOf(s, loadStart)
	}
	return out
}

// TestTimeToRecover checks "back to normal" both ways: a system whose
// intervals after the revert look like its baseline's, stalls included,
// has recovered at once, however noisy the machine; one that stays slow
// never has; and a load that ends right after the revert cannot tell.
func TestTimeToRecover(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	// One interval in three has 2 to 4 requests of 12 ms among its 200 of
	// 1 ms: the pooled p99 of the baseline stays near 1 ms, while the p99
	// of one interval is 12 ms a third of the time.
	stalls := func(i int) int {
		if i%3 == 1 {
			return 2 + i%3
		}
		return 0
	}
	none := func(int) int { return 0 }
	all := func(int) int { return 200 }
	cases := []struct {
		name      string
		after     func(i int) int // slow requests per interval after the baseline
		slow      time.Duration
		intervals int // after the baseline
		revertAt  time.Duration
		want      float64 // NaN: inconclusive
		why       string
	}{
		{name: "as noisy as the baseline", after: stalls, slow: 12 * time.Millisecond, intervals: 10, revertAt: 10 * time.Second, want: 0},
		{name: "quiet after a noisy baseline", after: none, slow: 12 * time.Millisecond, intervals: 10, revertAt: 10 * time.Second, want: 0},
		{name: "slow for 3 s, then back", after: func(i int) int {
			if i < 13 {
				return 200
			}
			return 0
		}, slow: 40 * time.Millisecond, intervals: 10, revertAt: 10 * time.Second, want: float64(3 * time.Second)},
		{name: "never back", after: all, slow: 40 * time.Millisecond, intervals: 10, revertAt: 10 * time.Second, want: math.Inf(1)},
		{name: "stopped by an abort right after the revert", after: all, slow: 40 * time.Millisecond, intervals: 2, revertAt: 10*time.Second + 500*time.Millisecond,
			want: math.NaN(), why: "the load ended 2 interval(s) after the last revert"},
	}
	for _, c := range cases {
		rng := rand.New(rand.NewPCG(1, 2))
		base := noisyIntervals(t0, 10, time.Millisecond, 12*time.Millisecond, stalls, rng)
		rest := noisyIntervals(t0.Add(10*time.Second), c.intervals, time.Millisecond, c.slow, func(i int) int { return c.after(i + 10) }, rng)
		got, why := timeToRecover(pulsesOf(base, t0), base, pulsesOf(append(append([]*sample{}, base...), rest...), t0), c.revertAt)
		if math.IsNaN(c.want) != math.IsNaN(got) || (!math.IsNaN(got) && got != c.want) {
			t.Errorf("%s: time_to_recover %v, want %v (%s)", c.name, time.Duration(got), time.Duration(c.want), why)
		}
		if c.why != "" && !strings.Contains(why, c.why) {
			t.Errorf("%s: why %q, want %q", c.name, why, c.why)
		}
	}
}
