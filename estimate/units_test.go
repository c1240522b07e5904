package estimate

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    float64
		wantErr string
	}{
		{in: "10M", want: 10e6},
		{in: "1.5k", want: 1500},
		{in: "2K", want: 2000},
		{in: "3G", want: 3e9},
		{in: "1B", want: 1e9},
		{in: "200_000", want: 200000},
		{in: "2e6", want: 2e6},
		{in: " 7 ", want: 7},
		{in: "0", want: 0},
		{in: "-5", wantErr: "cannot be negative"},
		{in: "-1M", wantErr: "cannot be negative"},
		{in: "10X", wantErr: "unknown count suffix"},
		{in: "ten", wantErr: "want a count"},
		{in: "", wantErr: "want a count"},
		{in: "NaN", wantErr: "want a count"},
		{in: "1e400", wantErr: "want a count"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseCount(tt.in)
			checkParse(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func checkParse(t *testing.T, got float64, err error, want float64, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("got %v, %v; want an error containing %q", got, err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    float64
		wantErr string
	}{
		{in: "1KB", want: 1000},
		{in: "1kB", want: 1000},
		{in: "1KiB", want: 1024},
		{in: "1 GB", want: 1e9},
		{in: "1.5MiB", want: 1.5 * 1024 * 1024},
		{in: "5.5TB", want: 5.5e12},
		{in: "1PiB", want: 1 << 50},
		{in: "512B", want: 512},
		{in: "1000", wantErr: "missing unit"},
		{in: "1kb", wantErr: "unknown size unit"},
		{in: "1 KB/s", wantErr: "unknown size unit"},
		{in: "-1KB", wantErr: "cannot be negative"},
		{in: "KB", wantErr: "want a size"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSize(tt.in)
			checkParse(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestParseRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in         string
		perSecond  float64
		perDay     float64
		wantErr    string
		missingErr bool
	}{
		{in: "500/s", perSecond: 500, perDay: 500 * 86400},
		{in: "20/day", perSecond: 20.0 / 86400, perDay: 20},
		{in: "1M/day", perSecond: 1e6 / 86400, perDay: 1e6},
		{in: "20 req/day", perSecond: 20.0 / 86400, perDay: 20},
		{in: "3.6k/h", perSecond: 1, perDay: 86400},
		{in: "60/min", perSecond: 1, perDay: 86400},
		{in: "7/week", perSecond: 7.0 / (7 * 86400), perDay: 1},
		{in: "365/y", perSecond: 365.0 / (365 * 86400), perDay: 1},
		{in: "20", wantErr: "missing unit", missingErr: true},
		{in: "20/fortnight", wantErr: "unknown period"},
		{in: "-5/s", wantErr: "want a rate"},
		{in: "5 req 2/s", wantErr: "want a rate"},
		{in: "/s", wantErr: "want a rate"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseRate(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				if tt.missingErr != errors.Is(err, errMissingUnit) {
					t.Fatalf("errors.Is(err, errMissingUnit) = %v, want %v", !tt.missingErr, tt.missingErr)
				}
				return
			}
			checkParse(t, got.PerSecond(), err, tt.perSecond, "")
			checkParse(t, got.PerDay(), err, tt.perDay, "")
		})
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{in: "50ms", want: 50 * time.Millisecond},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "30d", want: 30 * Day},
		{in: "2w", want: 14 * Day},
		{in: "5y", want: 5 * 365 * Day},
		{in: "1.5d", want: 36 * time.Hour},
		{in: "50", wantErr: "missing unit"},
		{in: "-5d", wantErr: "cannot be negative"},
		{in: "-5s", wantErr: "cannot be negative"},
		{in: "5 parsecs", wantErr: "want a duration"},
		{in: "", wantErr: "want a duration"},
		{in: "400y", wantErr: "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseDuration(tt.in)
			checkParse(t, float64(got), err, float64(tt.want), tt.wantErr)
		})
	}
}

func TestParseFractions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		parse   func(string) (float64, error)
		in      string
		want    float64
		wantErr string
	}{
		{name: "percent", parse: ParsePercent, in: "80%", want: 0.8},
		{name: "percent", parse: ParsePercent, in: "0.5 %", want: 0.005},
		{name: "percent", parse: ParsePercent, in: "80", wantErr: "missing unit"},
		{name: "percent", parse: ParsePercent, in: "180%", wantErr: "between 0% and 100%"},
		{name: "percent", parse: ParsePercent, in: "-1%", wantErr: "between 0% and 100%"},
		{name: "percent", parse: ParsePercent, in: "80x", wantErr: "want a percentage"},
		{name: "factor", parse: ParseFactor, in: "3x", want: 3},
		{name: "factor", parse: ParseFactor, in: "2.5", want: 2.5},
		{name: "factor", parse: ParseFactor, in: "3y", wantErr: "want a factor"},
		{name: "factor", parse: ParseFactor, in: "-3x", wantErr: "cannot be negative"},
		{name: "ratio", parse: ParseReadShare, in: "9:1", want: 0.9},
		{name: "ratio", parse: ParseReadShare, in: "4 : 1", want: 0.8},
		{name: "ratio", parse: ParseReadShare, in: "100:0", want: 1},
		{name: "ratio", parse: ParseReadShare, in: "90%", want: 0.9},
		{name: "ratio", parse: ParseReadShare, in: "0:0", wantErr: "not both zero"},
		{name: "ratio", parse: ParseReadShare, in: "-1:2", wantErr: "non-negative"},
		{name: "ratio", parse: ParseReadShare, in: "a:b", wantErr: "want reads:writes"},
		{name: "ratio", parse: ParseReadShare, in: "0.9", wantErr: "missing unit"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := tt.parse(tt.in)
			checkParse(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestParseWholeNumbers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		parse   func(string) (int, error)
		in      string
		want    int
		wantErr bool
	}{
		{name: "redundancy", parse: ParseRedundancy, in: "N+1", want: 1},
		{name: "redundancy", parse: ParseRedundancy, in: "n+2", want: 2},
		{name: "redundancy", parse: ParseRedundancy, in: "N", want: 0},
		{name: "redundancy", parse: ParseRedundancy, in: "3", want: 3},
		{name: "redundancy", parse: ParseRedundancy, in: "N+-1", wantErr: true},
		{name: "redundancy", parse: ParseRedundancy, in: "N+1.5", wantErr: true},
		{name: "redundancy", parse: ParseRedundancy, in: "M+1", wantErr: true},
		{name: "replication", parse: ParseReplication, in: "3", want: 3},
		{name: "replication", parse: ParseReplication, in: "3x", want: 3},
		{name: "replication", parse: ParseReplication, in: "0", wantErr: true},
		{name: "replication", parse: ParseReplication, in: "2.5", wantErr: true},
		{name: "replication", parse: ParseReplication, in: "-3", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := tt.parse(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got %d, want an error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func TestNum(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   float64
		want string
	}{
		{200e6, "200,000,000"},
		{2314.8148148, "2,314.81"},
		{6944.444444, "6,944.44"},
		{1000, "1,000"},
		{999.999, "1,000"},
		{12.5, "12.5"},
		{-1234.5, "-1,234.5"},
		{0, "0"},
		{0.05, "0.05"},
		{0.000463, "0.000463"},
		{1, "1"},
		{math.Inf(1), "∞"},
	}
	for _, tt := range tests {
		if got := Num(tt.in); got != tt.want {
			t.Errorf("Num(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestHuman(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    float64
		unit string
		want string
	}{
		{2314.81, "req/s", "2.3 k req/s"},
		{6944.44, "req/s", "6.9 k req/s"},
		{200e6, "req/day", "200 M req/day"},
		{1e9, "B/day", "1 GB/day"},
		{365e9, "B/year", "365 GB/year"},
		{5.475e12, "B", "5.5 TB"},
		{36e9, "B", "36 GB"},
		{55.6e6, "bit/s", "56 Mbit/s"},
		{347.22, "requests", "347 requests"},
		{9.96, "req/s", "10 req/s"},
		{999.7, "req/s", "1 k req/s"},
		{0.05, "s", "0.05 s"},
	}
	for _, tt := range tests {
		if got := Human(tt.v, tt.unit); got != tt.want {
			t.Errorf("Human(%v, %q) = %q, want %q", tt.v, tt.unit, got, tt.want)
		}
	}
}

func TestHumanDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{1500 * time.Microsecond, "1.5ms"},
		{200 * time.Millisecond, "200ms"},
		{999 * time.Microsecond, "999µs"},
		{2500 * time.Millisecond, "2.5s"},
		{90 * time.Minute, "1h30m0s"},
		{30 * Day, "30d"},
		{5 * Year, "5y"},
	}
	for _, tt := range tests {
		if got := HumanDuration(tt.d); got != tt.want {
			t.Errorf("HumanDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
