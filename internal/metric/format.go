package metric

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Parse reads a value written in unit u: a duration like 250ms, a ratio as
// a percentage (1%) or a fraction (0.01), a rate as a bare number per
// second, a plain number.
func (u Unit) Parse(s string) (float64, error) {
	if s == "" {
		return 0, errors.New("no value after the comparison")
	}
	bad := func(want string) (float64, error) { return 0, fmt.Errorf("value %q: want %s", s, want) }
	switch u {
	case Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return bad("a duration like 250ms")
		}
		return float64(d), nil
	case Ratio:
		p, percent := strings.CutSuffix(s, "%")
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || !percent && v > 1 {
			return bad("a percentage like 1% or a fraction like 0.01")
		}
		if percent {
			v /= 100
		}
		return v, nil
	case Rate:
		// A rate with a unit (500/s) is the load generator's to read: see
		// loadgen.ParseRate. A bare number is per second.
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return bad("a rate like 500/s")
		}
		return v, nil
	default:
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return bad("a number")
		}
		return v, nil
	}
}

// Format prints a value of unit u: durations with three significant
// digits in a unit that suits them, ratios as percentages, rates per
// second. +Inf prints as "never" (a recovery that did not happen), NaN as
// "no data".
func (u Unit) Format(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "never"
	case math.IsNaN(v):
		return "no data"
	}
	switch u {
	case Duration:
		return FormatDuration(time.Duration(math.Round(v)))
	case Ratio:
		return FormatPercent(v)
	case Rate:
		return strconv.FormatFloat(v, 'f', 1, 64) + "/s"
	default:
		return formatNumber(v)
	}
}

// FormatDuration prints d with three significant digits in a unit that
// suits it: 850µs, 12.3ms, 1.25s; zero is 0s.
func FormatDuration(d time.Duration) string {
	if d < 0 && d != math.MinInt64 { // -MinInt64 overflows back to itself
		return "-" + FormatDuration(-d)
	}
	switch {
	case d == 0:
		return "0s"
	case d < time.Microsecond: // negatives that cannot be negated land here
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return threeDigits(float64(d)/float64(time.Microsecond)) + "µs"
	case d < time.Second:
		return threeDigits(float64(d)/float64(time.Millisecond)) + "ms"
	default:
		return threeDigits(d.Seconds()) + "s"
	}
}

func threeDigits(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// FormatPercent prints a fraction as a percentage with three significant
// digits (0.2001334 is 20%, 0.012345 is 1.23%), the way every report and
// verdict prints a ratio.
func FormatPercent(v float64) string {
	p := v * 100
	if p == 0 {
		return "0%"
	}
	if math.Abs(p) >= 1000 {
		return strconv.FormatFloat(p, 'f', 0, 64) + "%"
	}
	return strconv.FormatFloat(p, 'g', 3, 64) + "%"
}

// formatNumber prints a count whole and any other number with six
// significant digits, never in exponent notation.
func formatNumber(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	s := strconv.FormatFloat(v, 'g', 6, 64)
	if strings.ContainsRune(s, 'e') {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return s
}
