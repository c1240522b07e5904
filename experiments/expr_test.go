package experiments

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
)

func TestParseCondition(t *testing.T) {
	t.Parallel()
	phases := []string{"baseline", "fault", "store-outage"}
	good := []string{
		"p99 < 250ms",
		"error_rate < 1%",
		"rate >= 0.95 * target",
		"p99 < 2 * baseline.p99",
		"error_rate <= baseline.error_rate + 0.5%",
		"time_to_recover < 10s",
		"p99 < 300ms over 5s",
		"p99.9[checkout] < 1s",
		"store-outage.p99 > baseline.p99",
		"service.p50 <= (baseline.service.p50 + 5ms) * 1.1",
		"requests > 100",
		"dropped == 0",
		"value < 5",
		"-1 * p99 < 0s",
	}
	for _, src := range good {
		if _, err := parseCondition(src, phases); err != nil {
			t.Errorf("parseCondition(%q): %v", src, err)
		}
	}
	bad := []struct{ src, want string }{
		{"p99 < 250", "give the number a unit"},
		{"p99", "want a comparison"},
		{"latency < 1s", "unknown metric"},
		{"recovery.p99 < 1s", `unknown phase "recovery"`},
		{"p99 < 1s over soon", "window"},
		{"p99 = 1s", "use =="},
		{"p99 < (1s", "want )"},
		{"p99 * p50 < 1s", "cannot multiply"},
		{"error_rate + p99 < 1s", "cannot add"},
		{"baseline.time_to_recover < 1s", "cannot be taken from another phase"},
		{"p99 < 1parsec", "unknown unit"},
		{"p99 < 1s extra", "unexpected"},
	}
	for _, c := range bad {
		_, err := parseCondition(c.src, phases)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("parseCondition(%q) error = %v, want one containing %q", c.src, err, c.want)
		}
	}
	c, _ := parseCondition("p99 < 300ms over 5s", phases)
	if c.Window != 5*time.Second || c.Relative() {
		t.Errorf("window %v relative %v", c.Window, c.Relative())
	}
	pe, ok := func() (*parseError, bool) {
		_, err := parseCondition("p99 < 2 * nope.p99", phases)
		e, ok := err.(*parseError)
		return e, ok
	}()
	if !ok || pe.col != 11 {
		t.Errorf("error column = %v, want 11 (the reference)", pe)
	}
}

// phaseSamples makes n one-second intervals whose requests take latency d
// (with a little spread), failed ones among them.
func phaseSamples(start time.Time, n int, d time.Duration, perInterval, failed int, rng *rand.Rand) []*sample {
	var out []*sample
	for i := 0; i < n; i++ {
		st := loadgen.NewStats(start.Add(time.Duration(i)*time.Second), start.Add(time.Duration(i+1)*time.Second))
		se := seriesFor(st, "GET /", loadgen.OK)
		bad := seriesFor(st, "GET /", loadgen.Error)
		for k := 0; k < perInterval; k++ {
			v := int64(float64(d) * (0.9 + 0.2*rng.Float64()))
			target := se
			if k < failed {
				target = bad
				target.Errors[loadgen.ErrReset]++
			} else {
				target.Status[200]++
			}
			_ = target.Latency.RecordValue(v)
			_ = target.Service.RecordValue(v)
		}
		st.Scheduled = int64(perInterval)
		out = append(out, sampleOf(st, float64(perInterval)))
	}
	return out
}

// seriesFor adds an empty series to st (series are kept sorted by name
// then outcome; callers add "ok" before "error").
func seriesFor(st *loadgen.Stats, name string, outcome loadgen.Outcome) *loadgen.Series {
	s := &loadgen.Series{Name: name, Outcome: outcome, Latency: loadgen.NewHistogram(), Service: loadgen.NewHistogram(),
		Status: map[int]int64{}, Errors: map[loadgen.ErrorClass]int64{}}
	st.Series = append(st.Series, s)
	return s
}

func TestJudge(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Unix(1000, 0)
	base := phaseSamples(t0, 20, 10*time.Millisecond, 200, 0, rng)
	same := phaseSamples(t0.Add(20*time.Second), 20, 10*time.Millisecond, 200, 0, rng)
	slow := phaseSamples(t0.Add(40*time.Second), 20, 40*time.Millisecond, 200, 20, rng)
	short := phaseSamples(t0.Add(60*time.Second), 2, 10*time.Millisecond, 200, 0, rng)
	few := phaseSamples(t0.Add(70*time.Second), 10, 10*time.Millisecond, 5, 0, rng)
	phases := map[string][]*sample{"baseline": base, "same": same, "slow": slow, "short": short, "few": few}
	names := []string{"baseline", "same", "slow", "short", "few"}
	cases := []struct {
		phase, cond string
		want        Verdict
	}{
		{"baseline", "p99 < 20ms", Held},
		{"slow", "p99 < 20ms", Deviated},
		{"slow", "error_rate < 5%", Deviated},
		{"slow", "error_rate <= 10%", Held},
		{"slow", "p99 < 2 * baseline.p99", Deviated},
		{"slow", "p99 > 2 * baseline.p99", Held},
		{"same", "p99 < 2 * baseline.p99", Held},
		// Two phases from one distribution: the data cannot say which p50 is
		// higher.
		{"same", "p50 < baseline.p50", Inconclusive},
		{"short", "p99 < 2 * baseline.p99", Inconclusive},
		{"few", "p99 < 1s", Inconclusive},
		{"baseline", "rate >= 0.95 * target", Held},
	}
	for _, c := range cases {
		cond, err := parseCondition(c.cond, names)
		if err != nil {
			t.Fatal(err)
		}
		sc := &scope{current: phases[c.phase], phases: phases, timeToRecover: math.NaN()}
		j := judge(cond, sc, rand.New(rand.NewPCG(7, 7)))
		if j.Verdict != c.want {
			t.Errorf("%s in %s: %s (%s), want %s", c.cond, c.phase, j.Verdict, j.Detail, c.want)
		}
	}
}

// TestJudgePrintsAnImmediateRecovery: a recovery that took no time printed
// "time_to_recover = 0ns" (issue 10).
func TestJudgePrintsAnImmediateRecovery(t *testing.T) {
	t.Parallel()
	cond, err := parseCondition("time_to_recover < 10s", nil)
	if err != nil {
		t.Fatal(err)
	}
	j := judge(cond, &scope{timeToRecover: 0}, rand.New(rand.NewPCG(1, 1)))
	if j.Verdict != Held || j.Measured != "0s" || j.Detail != "time_to_recover = 0s, below 10.0s" {
		t.Errorf("judge = %s, measured %q, detail %q; want held, 0s", j.Verdict, j.Measured, j.Detail)
	}
}
