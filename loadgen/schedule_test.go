package loadgen

import (
	"math"
	"strings"
	"testing"
	"time"
)

func collect(t *testing.T, s OpenSchedule) []time.Duration {
	t.Helper()
	var out []time.Duration
	arrivals := s.Arrivals()
	for {
		off, ok := arrivals.Next()
		if !ok {
			return out
		}
		if len(out) > 0 && off < out[len(out)-1] {
			t.Fatalf("offsets go backwards: %v after %v", off, out[len(out)-1])
		}
		out = append(out, off)
		if len(out) > 10_000_000 {
			t.Fatal("schedule does not end")
		}
	}
}

func TestConstantScheduleIsExact(t *testing.T) {
	t.Parallel()
	s, err := ConstantSchedule(2000, 30*time.Second, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	offs := collect(t, s)
	if len(offs) != 60000 {
		t.Fatalf("got %d arrivals, want 60000", len(offs))
	}
	for i, off := range offs {
		want := time.Duration(i) * 500 * time.Microsecond
		if d := off - want; d < -time.Nanosecond || d > time.Nanosecond {
			t.Fatalf("arrival %d at %v, want %v", i, off, want)
		}
	}
}

func TestRampScheduleCounts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		start  float64
		stages []Stage
		want   int
	}{
		{"up from zero", 0, []Stage{{30 * time.Second, 500, false}}, 7500},
		{"up, hold, down", 0, []Stage{{30 * time.Second, 500, false}, {60 * time.Second, 500, false}, {10 * time.Second, 0, false}}, 7500 + 30000 + 2500},
		{"from a start rate", 100, []Stage{{10 * time.Second, 300, false}}, 2000},
		{"zero throughout", 0, []Stage{{10 * time.Second, 0, false}}, 0},
		{"down to zero then up", 200, []Stage{{2 * time.Second, 0, false}, {2 * time.Second, 200, false}}, 400},
		{"steps between phases", 100, []Stage{{2 * time.Second, 100, true}, {3 * time.Second, 400, true}, {1 * time.Second, 0, true}}, 200 + 1200},
	}
	for _, c := range cases {
		s, err := NewRateSchedule(c.start, c.stages, false, 0)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		offs := collect(t, s)
		if d := len(offs) - c.want; d < -1 || d > 1 {
			t.Errorf("%s: %d arrivals, want %d", c.name, len(offs), c.want)
		}
		if len(offs) > 0 && offs[len(offs)-1] >= s.Duration() {
			t.Errorf("%s: last arrival %v not before the end %v", c.name, offs[len(offs)-1], s.Duration())
		}
	}
}

func TestRampRateFollowsTheStages(t *testing.T) {
	t.Parallel()
	s, _ := NewRateSchedule(0, []Stage{{Duration: 10 * time.Second, Target: 1000}}, false, 0)
	offs := collect(t, s)
	// In a linear ramp from 0 to 1000/s over 10s, the arrivals in the
	// second [4s, 5s) are ∫ r = 100 * (5² - 4²) / 2 = 450.
	n := 0
	for _, off := range offs {
		if off >= 4*time.Second && off < 5*time.Second {
			n++
		}
	}
	if n < 449 || n > 451 {
		t.Errorf("%d arrivals in [4s, 5s), want 450", n)
	}
	if r := s.TargetAt(2500 * time.Millisecond); math.Abs(r-250) > 1e-9 {
		t.Errorf("TargetAt(2.5s) = %v, want 250", r)
	}
}

func TestPoissonSchedule(t *testing.T) {
	t.Parallel()
	s, _ := ConstantSchedule(1000, 20*time.Second, true, 42)
	offs := collect(t, s)
	// 20,000 expected; the standard deviation of a Poisson count is √20000 ≈ 141.
	if n := len(offs); n < 19500 || n > 20500 {
		t.Errorf("%d arrivals, want about 20000", n)
	}
	// Inter-arrival gaps are exponential: their coefficient of variation is 1.
	var sum, sumSq float64
	for i := 1; i < len(offs); i++ {
		g := (offs[i] - offs[i-1]).Seconds()
		sum += g
		sumSq += g * g
	}
	n := float64(len(offs) - 1)
	mean := sum / n
	cv := math.Sqrt(sumSq/n-mean*mean) / mean
	if cv < 0.95 || cv > 1.05 {
		t.Errorf("gap coefficient of variation %.3f, want about 1", cv)
	}
	again, _ := ConstantSchedule(1000, 20*time.Second, true, 42)
	if o := collect(t, again); len(o) != len(offs) || o[100] != offs[100] {
		t.Error("the same seed gave a different schedule")
	}
}

func TestParseRate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in      string
		want    float64
		wantErr string
	}{
		{"500/s", 500, ""},
		{"2000/s", 2000, ""},
		{"1.5k/s", 1500, ""},
		{"30/m", 0.5, ""},
		{"2/ms", 2000, ""},
		{"10/100ms", 100, ""},
		{"abc", 0, "no unit"},
		{"500", 0, "no unit"},
		{"x/s", 0, "not a number"},
		{"5/fortnight", 0, "unknown unit"},
		{"-5/s", 0, "negative"},
	}
	for _, c := range cases {
		got, err := ParseRate(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseRate(%q) error = %v, want one containing %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil || math.Abs(got-c.want) > 1e-9 {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestParseStage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in      string
		rate    bool
		want    Stage
		wantErr bool
	}{
		{"30s:500/s", true, Stage{Duration: 30 * time.Second, Target: 500}, false},
		{"1m:50", false, Stage{Duration: time.Minute, Target: 50}, false},
		{"10s:0/s", true, Stage{Duration: 10 * time.Second, Target: 0}, false},
		{"30s", true, Stage{}, true},
		{"-1s:5/s", true, Stage{}, true},
		{"1s:5/s", false, Stage{}, true},
		{"1s:-3", false, Stage{}, true},
		{"1s:abc", true, Stage{}, true},
	}
	for _, c := range cases {
		got, err := ParseStage(c.in, c.rate)
		if (err != nil) != c.wantErr || (!c.wantErr && got != c.want) {
			t.Errorf("ParseStage(%q, %v) = %v, %v", c.in, c.rate, got, err)
		}
	}
}

func TestPickerIsExactlyProportional(t *testing.T) {
	t.Parallel()
	p := newPicker([]Target{{Weight: 3}, {Weight: 1}, {Weight: 2}})
	counts := make([]int, 3)
	for i := 0; i < 600; i++ {
		counts[p.next()]++
	}
	if counts[0] != 300 || counts[1] != 100 || counts[2] != 200 {
		t.Errorf("counts %v, want [300 100 200]", counts)
	}
}
