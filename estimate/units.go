package estimate

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Day and Year are the calendar units of the plan arithmetic. A year is 365
// days, as in the classic worked example (1 GB a day is 365 GB a year).
const (
	Day  = 24 * time.Hour
	Week = 7 * Day
	Year = 365 * Day
)

// Rate is a count per period as written ("20/day", "500/s"). Keeping the
// period lets a per-day rate stay exact in the arithmetic shown to the reader.
type Rate struct {
	Count  float64
	Period time.Duration
}

// PerSecond returns the rate in events per second.
func (r Rate) PerSecond() float64 { return r.Count / r.Period.Seconds() }

// PerDay returns the rate in events per day.
func (r Rate) PerDay() float64 {
	if r.Period == Day {
		return r.Count
	}
	return r.Count * float64(Day) / float64(r.Period)
}

// countSuffixes are the decimal multipliers a count may carry.
var countSuffixes = map[string]float64{
	"":  1,
	"k": 1e3, "K": 1e3,
	"M": 1e6,
	"G": 1e9, "B": 1e9, // B as in billion; counts never mean bytes.
	"T": 1e12,
}

// sizeUnits are the byte units: decimal (SI) prefixes are powers of 1000, as
// in the worked example (1 KB records, 1 GB a day); binary (IEC) prefixes
// are powers of 1024.
var sizeUnits = map[string]float64{
	"B":  1,
	"kB": 1e3, "KB": 1e3,
	"MB":  1e6,
	"GB":  1e9,
	"TB":  1e12,
	"PB":  1e15,
	"KiB": 1 << 10, "kiB": 1 << 10,
	"MiB": 1 << 20,
	"GiB": 1 << 30,
	"TiB": 1 << 40,
	"PiB": 1 << 50,
}

// periods are the time units a rate may be expressed per.
var periods = map[string]time.Duration{
	"ms": time.Millisecond,
	"s":  time.Second, "sec": time.Second, "second": time.Second,
	"min": time.Minute, "minute": time.Minute,
	"h": time.Hour, "hour": time.Hour,
	"d": Day, "day": Day,
	"w": Week, "week": Week,
	"y": Year, "yr": Year, "year": Year,
}

var errMissingUnit = errors.New("missing unit")

// splitNumber splits s into its leading decimal number (digits, one point,
// an exponent, underscores as digit separators) and the rest, trimmed.
func splitNumber(s string) (num, rest string) {
	s = strings.TrimSpace(s)
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.' || s[i] == '_') {
		i++
	}
	// An exponent only counts when digits follow it, so that "1e" stays a
	// number followed by garbage rather than a malformed float.
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && s[j] >= '0' && s[j] <= '9' {
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			i = j
		}
	}
	return s[:i], strings.TrimSpace(s[i:])
}

// parseNumber parses a finite decimal number; negative values are rejected
// by the callers that need a count.
func parseNumber(num string) (float64, error) {
	if num == "" {
		return 0, errors.New("no number")
	}
	clean := strings.ReplaceAll(num, "_", "")
	v, err := strconv.ParseFloat(clean, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a number", num)
	}
	return v, nil
}

// ParseCount parses a non-negative count with an optional decimal suffix:
// "10M", "1.5k", "200_000", "2e6".
func ParseCount(s string) (float64, error) {
	num, suffix := splitNumber(s)
	v, err := parseNumber(num)
	if err != nil {
		return 0, fmt.Errorf("%q: want a count such as 10M or 1500", s)
	}
	mult, ok := countSuffixes[suffix]
	if !ok {
		return 0, fmt.Errorf("%q: unknown count suffix %q (want k, M, G or T)", s, suffix)
	}
	v *= mult
	if v < 0 {
		return 0, fmt.Errorf("%q: a count cannot be negative", s)
	}
	if math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q: too large", s)
	}
	return v, nil
}

// ParseSize parses a byte size that carries its unit: "1KB" (1000 bytes),
// "1KiB" (1024 bytes), "512B", "1.5 GB".
func ParseSize(s string) (float64, error) {
	num, unit := splitNumber(s)
	v, err := parseNumber(num)
	if err != nil {
		return 0, fmt.Errorf("%q: want a size such as 1KB or 1KiB", s)
	}
	if unit == "" {
		return 0, fmt.Errorf("%q: %w: want a size such as 1KB (1000 B) or 1KiB (1024 B)", s, errMissingUnit)
	}
	mult, ok := sizeUnits[unit]
	if !ok {
		return 0, fmt.Errorf("%q: unknown size unit %q (want B, KB, MB, GB, TB, PB or KiB, MiB, GiB, TiB, PiB)", s, unit)
	}
	if v < 0 {
		return 0, fmt.Errorf("%q: a size cannot be negative", s)
	}
	return v * mult, nil
}

// ParseRate parses a count per period: "500/s", "20/day", "1M/day",
// "3.5k/min", and also "20 req/day" with a noun before the slash.
func ParseRate(s string) (Rate, error) {
	slash := strings.LastIndexByte(s, '/')
	if slash < 0 {
		return Rate{}, fmt.Errorf("%q: %w: want a rate such as 500/s or 20/day", s, errMissingUnit)
	}
	left, unit := strings.TrimSpace(s[:slash]), strings.TrimSpace(s[slash+1:])
	per, ok := periods[unit]
	if !ok {
		return Rate{}, fmt.Errorf("%q: unknown period %q (want s, min, h, day, week or year)", s, unit)
	}
	// A noun between the number and the slash ("20 req/day") is allowed as
	// long as it is a plain word; it does not change the value.
	if i := strings.IndexFunc(left, unicode.IsSpace); i > 0 {
		noun := strings.TrimSpace(left[i:])
		if !isWord(noun) {
			return Rate{}, fmt.Errorf("%q: want a rate such as 500/s or 20/day", s)
		}
		left = left[:i]
	}
	n, err := ParseCount(left)
	if err != nil {
		return Rate{}, fmt.Errorf("%q: want a rate such as 500/s or 20/day", s)
	}
	return Rate{Count: n, Period: per}, nil
}

func isWord(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return true
}

// ParseDuration parses a Go duration ("50ms", "1h30m") or a whole number of
// days, weeks or 365-day years ("30d", "2w", "5y").
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	num, unit := splitNumber(t)
	if unit == "" {
		if num != "" {
			return 0, fmt.Errorf("%q: %w: want a duration such as 50ms, 30d or 5y", s, errMissingUnit)
		}
		return 0, fmt.Errorf("%q: want a duration such as 50ms, 30d or 5y", s)
	}
	var per time.Duration
	switch unit {
	case "d", "day", "days":
		per = Day
	case "w", "week", "weeks":
		per = Week
	case "y", "yr", "year", "years":
		per = Year
	}
	if per != 0 {
		v, err := parseNumber(num)
		if err != nil {
			return 0, fmt.Errorf("%q: want a duration such as 50ms, 30d or 5y", s)
		}
		if v < 0 {
			return 0, fmt.Errorf("%q: a duration cannot be negative", s)
		}
		d := v * float64(per)
		if d > math.MaxInt64 {
			return 0, fmt.Errorf("%q: too long", s)
		}
		return time.Duration(d), nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("%q: want a duration such as 50ms, 30d or 5y", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q: a duration cannot be negative", s)
	}
	return d, nil
}

// ParsePercent parses a percentage that carries its sign, "80%", into a
// fraction (0.8). It accepts 0% to 100%.
func ParsePercent(s string) (float64, error) {
	num, unit := splitNumber(s)
	v, err := parseNumber(num)
	if err != nil {
		return 0, fmt.Errorf("%q: want a percentage such as 80%%", s)
	}
	if unit != "%" {
		if unit == "" {
			return 0, fmt.Errorf("%q: %w: want a percentage such as 80%%", s, errMissingUnit)
		}
		return 0, fmt.Errorf("%q: want a percentage such as 80%%", s)
	}
	if v < 0 || v > 100 {
		return 0, fmt.Errorf("%q: want a percentage between 0%% and 100%%", s)
	}
	return v / 100, nil
}

// ParseFactor parses a dimensionless multiplier, "3x" or "3".
func ParseFactor(s string) (float64, error) {
	num, unit := splitNumber(s)
	v, err := parseNumber(num)
	if err != nil || (unit != "" && unit != "x" && unit != "×") {
		return 0, fmt.Errorf("%q: want a factor such as 3x", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("%q: a factor cannot be negative", s)
	}
	return v, nil
}

// ParseReadShare parses the read:write mix, either as a ratio of reads to
// writes ("9:1", "4:1") or as the share of reads ("90%"), into the fraction
// of requests that are reads.
func ParseReadShare(s string) (float64, error) {
	t := strings.TrimSpace(s)
	if r, w, ok := strings.Cut(t, ":"); ok {
		reads, err1 := parseNumber(strings.TrimSpace(r))
		writes, err2 := parseNumber(strings.TrimSpace(w))
		if err1 != nil || err2 != nil {
			return 0, fmt.Errorf("%q: want reads:writes such as 9:1, or a read share such as 90%%", s)
		}
		if reads < 0 || writes < 0 || reads+writes == 0 {
			return 0, fmt.Errorf("%q: want non-negative reads:writes, not both zero", s)
		}
		return reads / (reads + writes), nil
	}
	if strings.HasSuffix(t, "%") {
		return ParsePercent(t)
	}
	return 0, fmt.Errorf("%q: %w: want reads:writes such as 9:1, or a read share such as 90%%", s, errMissingUnit)
}

// ParseRedundancy parses N+k redundancy, "N+1", "n+2", "N" or a bare k, into
// the number of spare instances k.
func ParseRedundancy(s string) (int, error) {
	t := strings.TrimSpace(s)
	if t == "N" || t == "n" {
		return 0, nil
	}
	if rest, ok := strings.CutPrefix(strings.ToUpper(t), "N+"); ok {
		t = strings.TrimSpace(rest)
	}
	k, err := strconv.Atoi(t)
	if err != nil || k < 0 || k > 1_000_000 {
		return 0, fmt.Errorf("%q: want N+k redundancy such as N+1, with k a whole number of spare instances", s)
	}
	return k, nil
}

// ParseReplication parses a replication factor, "3" or "3x": a whole number
// of copies, at least one.
func ParseReplication(s string) (int, error) {
	v, err := ParseFactor(s)
	if err != nil || v != math.Trunc(v) || v < 1 || v > 1000 {
		return 0, fmt.Errorf("%q: want a whole number of copies such as 3", s)
	}
	return int(v), nil
}
