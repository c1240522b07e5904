package metric

import (
	"math"
	"testing"
	"time"
)

func TestFormat(t *testing.T) {
	t.Parallel()
	cases := []struct {
		unit Unit
		v    float64
		want string
	}{
		// A recovery that took no time is 0s, not 0ns (issue 10).
		{Duration, 0, "0s"},
		{Duration, 850, "850ns"},
		{Duration, float64(12345 * time.Microsecond), "12.3ms"},
		{Duration, float64(1250 * time.Millisecond), "1.25s"},
		{Duration, math.Inf(1), "never"},
		{Duration, -1500, "-1.50µs"},
		{Duration, math.NaN(), "no data"},
		// Ratios print with three significant digits wherever they appear:
		// a threshold printed 20.0133422281521% (issue 10).
		{Ratio, 0.200133422281521, "20%"},
		{Ratio, 0.0123456, "1.23%"},
		{Ratio, 0, "0%"},
		{Ratio, 1, "100%"},
		{Ratio, 0.00001, "0.001%"},
		{Rate, 99.84, "99.8/s"},
		{Count, 1234567, "1234567"},
		{Count, 0.1234567, "0.123457"},
	}
	if got := FormatDuration(math.MinInt64); got != "-9223372036854775808ns" {
		t.Errorf("FormatDuration(MinInt64) = %q", got)
	}
	for _, c := range cases {
		if got := c.unit.Format(c.v); got != c.want {
			t.Errorf("%s: Format(%v) = %q, want %q", c.unit, c.v, got, c.want)
		}
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	cases := []struct {
		unit    Unit
		in      string
		want    float64
		wantErr bool
	}{
		{Duration, "250ms", 250e6, false},
		{Duration, "250", 0, true},
		{Ratio, "1%", 0.01, false},
		{Ratio, "0.01", 0.01, false},
		{Ratio, "2", 0, true},
		{Rate, "500", 500, false},
		{Count, "7", 7, false},
		{Count, "", 0, true},
	}
	for _, c := range cases {
		got, err := c.unit.Parse(c.in)
		if (err != nil) != c.wantErr || !c.wantErr && math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: Parse(%q) = %v, %v; want %v (error %v)", c.unit, c.in, got, err, c.want, c.wantErr)
		}
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		unit       Unit
		histogram  Histogram
		percentile float64
	}{
		{"p99.9", Duration, Latency, 99.9},
		{"service.mean", Duration, Service, 0},
		{"lag.p50", Duration, Lag, 50},
		{"error_rate", Ratio, None, 0},
		{"rate", Rate, None, 0},
		{"dropped", Count, None, 0},
	}
	for _, c := range cases {
		m, err := Lookup(c.name)
		if err != nil || m.Unit != c.unit || m.Histogram != c.histogram || m.Percentile != c.percentile {
			t.Errorf("Lookup(%q) = %+v, %v", c.name, m, err)
		}
	}
	for _, bad := range []string{"latency", "p0", "p101", "service.error_rate", "lag.rate", "p"} {
		if _, err := Lookup(bad); err == nil {
			t.Errorf("Lookup(%q) accepted", bad)
		}
	}
	if _, err := LookupMeasured("target"); err == nil {
		t.Error("LookupMeasured(target) accepted: no interval of a load knows the target")
	}
}

func TestOf(t *testing.T) {
	t.Parallel()
	lat := Buckets{Values: []int64{1000, 2000}, Counts: []int64{3, 1}, Total: 4}
	tally := &Tally{Completed: 4, Failed: 1, Scheduled: 10, Dropped: 2, Seconds: 2, TargetSeconds: 20, Latency: &lat}
	cases := map[string]float64{
		"error_rate": 0.25, "rate": 2, "target": 10, "requests": 4, "errors": 1, "dropped": 2,
		"dropped_rate": 0.2, "p50": 1000, "max": 2000, "min": 1000,
	}
	for name, want := range cases {
		m, _ := Lookup(name)
		if got := m.Of(tally); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	empty := &Tally{}
	for _, name := range []string{"error_rate", "rate", "p99", "service.p99", "lag.mean"} {
		m, _ := Lookup(name)
		if v := m.Of(empty); !math.IsNaN(v) {
			t.Errorf("%s of nothing = %v, want NaN", name, v)
		}
	}
}
