package chaos

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Size is a number of bytes that carries its unit in YAML and on the command
// line: "512B", "64KiB", "1MB". A bare number is bytes.
type Size int64

// byteUnits maps the accepted unit suffixes to bytes. Decimal units are
// powers of 1000 and binary units powers of 1024, as their names say.
var byteUnits = map[string]float64{
	"B":   1,
	"KB":  1e3,
	"kB":  1e3,
	"MB":  1e6,
	"GB":  1e9,
	"TB":  1e12,
	"KiB": 1 << 10,
	"MiB": 1 << 20,
	"GiB": 1 << 30,
	"TiB": 1 << 40,
}

// ParseSize parses a size such as "64KiB".
func ParseSize(s string) (Size, error) {
	n, err := parseBytes(s)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	return Size(n), nil
}

func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	digits := strings.TrimLeft(s, "+-")
	i := strings.IndexFunc(digits, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := s, "B"
	if i >= 0 {
		i += len(s) - len(digits)
		num, unit = strings.TrimSpace(s[:i]), strings.TrimSpace(s[i:])
	}
	mult, ok := byteUnits[unit]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)", unit)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("not a non-negative number of bytes")
	}
	b := v * mult
	if b != math.Trunc(b) || b > math.MaxInt64/2 {
		return 0, fmt.Errorf("not a whole number of bytes")
	}
	return int64(b), nil
}

// String renders the size in the largest binary unit that divides it.
func (s Size) String() string {
	for _, u := range []string{"GiB", "MiB", "KiB"} {
		m := int64(byteUnits[u])
		if s != 0 && int64(s)%m == 0 {
			return fmt.Sprintf("%d%s", int64(s)/m, u)
		}
	}
	return fmt.Sprintf("%dB", int64(s))
}

// UnmarshalYAML accepts "64KiB" or a bare number of bytes.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseSize(n.Value)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalYAML writes the size with its unit.
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }

// Set implements pflag.Value so a Size is a command-line flag.
func (s *Size) Set(v string) error {
	p, err := ParseSize(v)
	if err != nil {
		return err
	}
	*s = p
	return nil
}

// Type implements pflag.Value.
func (s *Size) Type() string { return "size" }

// ByteRate is a throughput in bytes per second that carries its unit:
// "100KB/s", "1MiB/s".
type ByteRate int64

// ParseByteRate parses a throughput such as "100KB/s".
func ParseByteRate(s string) (ByteRate, error) {
	body, ok := strings.CutSuffix(strings.TrimSpace(s), "/s")
	if !ok {
		return 0, fmt.Errorf("rate %q: give bytes per second with a unit, such as 100KB/s", s)
	}
	n, err := parseBytes(body)
	if err != nil {
		return 0, fmt.Errorf("rate %q: %w", s, err)
	}
	return ByteRate(n), nil
}

// String renders the rate with a unit.
func (r ByteRate) String() string {
	if r != 0 && r%1000 == 0 && r%1024 != 0 {
		if r%1_000_000 == 0 {
			return fmt.Sprintf("%dMB/s", r/1_000_000)
		}
		return fmt.Sprintf("%dKB/s", r/1000)
	}
	return Size(r).String() + "/s"
}

// UnmarshalYAML accepts "100KB/s".
func (r *ByteRate) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteRate(n.Value)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// MarshalYAML writes the rate with its unit.
func (r ByteRate) MarshalYAML() (any, error) { return r.String(), nil }

// Set implements pflag.Value.
func (r *ByteRate) Set(v string) error {
	p, err := ParseByteRate(v)
	if err != nil {
		return err
	}
	*r = p
	return nil
}

// Type implements pflag.Value.
func (r *ByteRate) Type() string { return "rate" }
