package estimate

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Num formats v for the arithmetic a reader checks by hand: thousands
// separators and two decimals, trailing zeros dropped ("2,314.81",
// "200,000,000"); values below 1 keep four significant digits ("0.004630").
func Num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "∞"
	case math.IsInf(v, -1):
		return "-∞"
	}
	if v != 0 && math.Abs(v) < 1 {
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	if math.Abs(v) >= 1e21 {
		return strconv.FormatFloat(v, 'g', 6, 64)
	}
	s := strconv.FormatFloat(v, 'f', 2, 64)
	s = strings.TrimSuffix(s, ".00")
	if strings.Contains(s, ".") {
		s = strings.TrimRight(s, "0")
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

// prefixes are the decimal prefixes of the rounded human values.
var prefixes = []struct {
	factor float64
	symbol string
}{
	{1e15, "P"}, {1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"},
}

// roundMantissa keeps one decimal below 10 and none above, which gives
// "2.3 k", "6.9 k", "36 G" and "365 G": short, yet close enough to plan with.
func roundMantissa(m float64) string {
	if math.Abs(m) < 10 {
		r := math.Round(m*10) / 10
		if math.Abs(r) < 10 {
			return strings.TrimSuffix(strconv.FormatFloat(r, 'f', 1, 64), ".0")
		}
	}
	return strconv.FormatFloat(math.Round(m), 'f', 0, 64)
}

// Human rounds v with a decimal prefix for reading at a glance. Byte and bit
// units take the prefix glued on ("36 GB", "19 Mbit/s"); other units take it
// as a separate word ("2.3 k req/s").
func Human(v float64, unit string) string {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return Num(v) + " " + unit
	}
	glued := strings.HasPrefix(unit, "B") || strings.HasPrefix(unit, "bit")
	for _, p := range prefixes {
		if math.Abs(v) >= p.factor*0.9995 {
			m := roundMantissa(v / p.factor)
			if glued {
				return m + " " + p.symbol + unit
			}
			return m + " " + p.symbol + " " + unit
		}
	}
	if v != 0 && math.Abs(v) < 1 {
		return strconv.FormatFloat(v, 'g', 2, 64) + " " + unit
	}
	return roundMantissa(v) + " " + unit
}

// HumanDuration rounds d to three significant digits in a readable unit.
func HumanDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d < time.Microsecond:
		return d.String()
	case d < time.Millisecond:
		return trimFloat(float64(d)/float64(time.Microsecond)) + "µs"
	case d < time.Second:
		return trimFloat(float64(d)/float64(time.Millisecond)) + "ms"
	case d < time.Minute:
		return trimFloat(d.Seconds()) + "s"
	case d < 48*time.Hour:
		return d.Round(time.Second).String()
	case d < 2*Year:
		return trimFloat(float64(d)/float64(Day)) + "d"
	default:
		return trimFloat(float64(d)/float64(Year)) + "y"
	}
}

// trimFloat formats v with three significant digits without an exponent.
func trimFloat(v float64) string {
	decimals := 2
	switch {
	case v >= 100:
		decimals = 0
	case v >= 10:
		decimals = 1
	}
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
