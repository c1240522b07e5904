package targets

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Rate is an amount of events per unit of time, written with its unit:
// "100/s", "6000/m", "2/ms", "1/500ms". Its value is events per second.
type Rate float64

// ParseRate parses "N/unit" where N is a non-negative number and unit is s,
// m, h, ms, or any Go duration such as 500ms or 2s.
func ParseRate(s string) (Rate, error) {
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, fmt.Errorf("rate %q: want N/s, N/m, N/h or N/<duration>", s)
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) || n < 0 {
		return 0, fmt.Errorf("rate %q: %q is not a non-negative number", s, num)
	}
	unit = strings.TrimSpace(unit)
	var per time.Duration
	switch unit {
	case "s":
		per = time.Second
	case "m", "min":
		per = time.Minute
	case "h":
		per = time.Hour
	default:
		if unit != "" && (unit[0] < '0' || unit[0] > '9') {
			unit = "1" + unit
		}
		per, err = time.ParseDuration(unit)
		if err != nil || per <= 0 {
			return 0, fmt.Errorf("rate %q: unit %q is not s, m, h or a positive duration", s, strings.TrimSpace(unit))
		}
	}
	r := n / per.Seconds()
	if math.IsInf(r, 0) || math.IsNaN(r) {
		return 0, fmt.Errorf("rate %q: out of range", s)
	}
	return Rate(r), nil
}

// PerSecond is the rate in events per second.
func (r Rate) PerSecond() float64 { return float64(r) }

// String formats the rate as events per second, such as "100/s".
func (r Rate) String() string {
	return strconv.FormatFloat(float64(r), 'g', -1, 64) + "/s"
}

// UnmarshalYAML reads a rate written with its unit.
func (r *Rate) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a rate is a scalar such as 100/s", n.Line)
	}
	v, err := ParseRate(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*r = v
	return nil
}

// MarshalYAML writes the rate as events per second.
func (r Rate) MarshalYAML() (any, error) { return r.String(), nil }
