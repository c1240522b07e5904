package loadgen

import (
	"strings"
	"testing"
	"time"
)

func TestParseThreshold(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in                  string
		request, metric, op string
		value               float64
		window              time.Duration
		wantErr             string
	}{
		{in: "p99<250ms", metric: "p99", op: "<", value: float64(250 * time.Millisecond)},
		{in: "p99.9 <= 1s", metric: "p99.9", op: "<=", value: float64(time.Second)},
		{in: "checkout:p99.9<1s", request: "checkout", metric: "p99.9", op: "<", value: float64(time.Second)},
		{in: "error_rate<1%", metric: "error_rate", op: "<", value: 0.01},
		{in: "error_rate<0.5", metric: "error_rate", op: "<", value: 0.5},
		{in: "rate>=1900/s", metric: "rate", op: ">=", value: 1900},
		{in: "dropped==0", metric: "dropped", op: "==", value: 0},
		{in: "service.p50<5ms", metric: "service.p50", op: "<", value: float64(5 * time.Millisecond)},
		{in: "lag.max<10ms", metric: "lag.max", op: "<", value: float64(10 * time.Millisecond)},
		{in: "p99<250ms over 10s", metric: "p99", op: "<", value: float64(250 * time.Millisecond), window: 10 * time.Second},
		{in: "GET /api:mean!=0s", request: "GET /api", metric: "mean", op: "!=", value: 0},
		{in: "p99", wantErr: "no comparison"},
		{in: "p101<1s", wantErr: "unknown metric"},
		{in: "latency<1s", wantErr: "unknown metric"},
		{in: "p99<250", wantErr: "want a duration"},
		{in: "error_rate<5", wantErr: "percentage"},
		{in: "p99<1s over soon", wantErr: "window"},
		{in: ":p99<1s", wantErr: "empty request name"},
		{in: "p99<", wantErr: "no value"},
	}
	for _, c := range cases {
		th, err := ParseThreshold(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseThreshold(%q) error = %v, want one containing %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseThreshold(%q): %v", c.in, err)
			continue
		}
		if th.Request != c.request || th.Metric() != c.metric || th.Op != c.op || th.Value != c.value || th.Window != c.window {
			t.Errorf("ParseThreshold(%q) = request %q metric %q op %q value %v window %v", c.in, th.Request, th.Metric(), th.Op, th.Value, th.Window)
		}
	}
}

// statsWith builds an interval with n samples of latency d for name, failed
// ones among them.
func statsWith(start time.Time, span time.Duration, name string, d time.Duration, n, failed int) *Stats {
	s := NewStats(start, start.Add(span))
	ok, bad := s.series(name, OK), s.series(name, Error)
	for i := 0; i < n; i++ {
		se := ok
		if i < failed {
			se = bad
			se.Errors[ErrReset]++
		} else {
			se.Status[200]++
		}
		recordDuration(se.Latency, d)
		recordDuration(se.Service, d)
	}
	s.Scheduled = int64(n)
	return s
}

func TestEvaluateThresholds(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	total := statsWith(t0, 10*time.Second, "checkout", 100*time.Millisecond, 1000, 20)
	total.Merge(statsWith(t0, 10*time.Second, "browse", 5*time.Millisecond, 9000, 0))
	cases := []struct {
		expr string
		held bool
	}{
		{"p99<250ms", true},
		{"p50<10ms", true},
		{"checkout:p50<50ms", false},
		{"checkout:p99.9<1s", true},
		{"error_rate<1%", true},
		{"checkout:error_rate<1%", false},
		{"checkout:error_rate<=2%", true},
		{"rate>=999/s", true},
		{"requests==10000", true},
		{"errors>0", true},
		{"nobody:p99<1s", false},
	}
	var ths []*Threshold
	for _, c := range cases {
		th, err := ParseThreshold(c.expr)
		if err != nil {
			t.Fatal(err)
		}
		ths = append(ths, th)
	}
	results := NewEvaluator(ths).Results(total)
	for i, c := range cases {
		if results[i].Held != c.held {
			t.Errorf("%s: held = %v, want %v (%s)", c.expr, results[i].Held, c.held, results[i])
		}
	}
	if !results[len(results)-1].NoData {
		t.Error("a threshold on a name with no requests should say it has no data")
	}
	if AllHeld(results) {
		t.Error("AllHeld with failing thresholds")
	}
}

func TestWindowedThresholdCatchesABadStretch(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	whole, _ := ParseThreshold("p99<250ms")
	windowed, _ := ParseThreshold("p99<250ms over 3s")
	ev := NewEvaluator([]*Threshold{whole, windowed})
	total := NewStats(t0, t0)
	// 30 one-second intervals; seconds 10..12 are slow, so the worst 3s
	// window is all slow.
	for i := 0; i < 30; i++ {
		d := 10 * time.Millisecond
		if i >= 10 && i < 13 {
			d = 400 * time.Millisecond
		}
		iv := statsWith(t0.Add(time.Duration(i)*time.Second), time.Second, "all", d, 100, 0)
		ev.Observe(iv)
		total.Merge(iv)
	}
	rs := ev.Results(total)
	if rs[1].Held {
		t.Errorf("windowed threshold held: %s", rs[1])
	}
	if got := rs[1].Value; time.Duration(got) < 390*time.Millisecond {
		t.Errorf("worst window p99 = %s, want the slow stretch", windowed.Format(got))
	}
	// A short slow spell that a whole-run p99 hides, but a window shows.
	ev2 := NewEvaluator([]*Threshold{whole, windowed})
	total2 := NewStats(t0, t0)
	for i := 0; i < 100; i++ {
		d := 10 * time.Millisecond
		n := 100
		if i == 50 {
			d, n = 400*time.Millisecond, 5
		}
		iv := statsWith(t0.Add(time.Duration(i)*time.Second), time.Second, "all", d, n, 0)
		ev2.Observe(iv)
		total2.Merge(iv)
	}
	rs2 := ev2.Results(total2)
	if !rs2[0].Held || rs2[1].Held {
		t.Errorf("whole-run %v (want held), windowed %v (want failed)", rs2[0], rs2[1])
	}
}

// TestThresholdPrintsPercentagesRounded: a threshold's verdict printed
// "error_rate = 20.0133422281521%" (issue 10); ratios print with three
// significant digits, as everywhere else.
func TestThresholdPrintsPercentagesRounded(t *testing.T) {
	t.Parallel()
	th, err := ParseThreshold("error_rate<1%")
	if err != nil {
		t.Fatal(err)
	}
	got := ThresholdResult{Threshold: th, Value: 0.200133422281521}.String()
	if want := "FAILED  error_rate<1%  (error_rate = 20%)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if _, err := ParseThreshold("target>10/s"); err == nil || !strings.Contains(err.Error(), "target") {
		t.Errorf("ParseThreshold(target>10/s) error = %v, want one saying a load has no target", err)
	}
}
