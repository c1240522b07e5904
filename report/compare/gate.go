package compare

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/internal/metric"
)

// Gate is a regression limit on a comparison: "p99:+10%" fails when the
// p99 of every request rose by more than 10% beyond the noise.
type Gate struct {
	Source string
	// Request is the request name, empty for every request together.
	Request string
	Metric  string
	// Increase is true for a "+" limit (fail when the metric rises by more
	// than Limit) and false for a "-" limit (fail when it falls by more).
	Increase bool
	// Limit is a positive magnitude: a fraction when Relative, else in the
	// metric's unit (nanoseconds, per second, or a fraction for error_rate).
	Limit    float64
	Relative bool
}

// ParseGate parses [REQUEST:]METRIC:(+|-)LIMIT where LIMIT is a percentage
// of the base value ("p99:+10%", "rate:-5%"), a duration for latency
// metrics ("p99.9:+20ms"), percentage points for error_rate
// ("error_rate:+1pp") or a rate for rate ("rate:-50/s").
func ParseGate(src string) (*Gate, error) {
	g := &Gate{Source: src}
	s := strings.TrimSpace(src)
	i := strings.LastIndex(s, ":")
	if i < 0 {
		return nil, fmt.Errorf("gate %q: want [REQUEST:]METRIC:+LIMIT like p99:+10%%", src)
	}
	head, limit := strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
	if j := strings.LastIndex(head, ":"); j >= 0 {
		g.Request, head = strings.TrimSpace(head[:j]), strings.TrimSpace(head[j+1:])
		if g.Request == "" {
			return nil, fmt.Errorf("gate %q: empty request name before the metric", src)
		}
	}
	g.Metric = head
	m, err := compareMetric(head)
	if err != nil {
		return nil, fmt.Errorf("gate %q: %w", src, err)
	}
	switch {
	case strings.HasPrefix(limit, "+"):
		g.Increase = true
	case strings.HasPrefix(limit, "-"):
	default:
		return nil, fmt.Errorf("gate %q: the limit %q needs a sign: + fails on a rise, - on a fall", src, limit)
	}
	limit = strings.TrimSpace(limit[1:])
	bad := func(want string) error { return fmt.Errorf("gate %q: limit %q: want %s", src, limit, want) }
	switch {
	case strings.HasSuffix(limit, "%"):
		if m.Unit == metric.Ratio {
			return nil, bad("percentage points for " + m.Name + ", like +1pp")
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(limit, "%"), 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, bad("a percentage like 10%")
		}
		g.Limit, g.Relative = v/100, true
	case m.Unit == metric.Ratio:
		v, err := strconv.ParseFloat(strings.TrimSuffix(limit, "pp"), 64)
		if !strings.HasSuffix(limit, "pp") || err != nil || v < 0 || v > 100 {
			return nil, bad("percentage points like 1pp")
		}
		g.Limit = v / 100
	case m.Unit == metric.Rate:
		v, err := strconv.ParseFloat(strings.TrimSuffix(limit, "/s"), 64)
		if !strings.HasSuffix(limit, "/s") || err != nil || v < 0 || math.IsInf(v, 0) {
			return nil, bad("a percentage like 10% or a rate like 50/s")
		}
		g.Limit = v
	case m.Unit == metric.Count:
		v, err := strconv.ParseFloat(limit, 64)
		if err != nil || v < 0 || math.IsInf(v, 0) {
			return nil, bad("a percentage like 10% or a number like 100")
		}
		g.Limit = v
	default:
		d, err := time.ParseDuration(limit)
		if err != nil || d < 0 {
			return nil, bad("a percentage like 10% or a duration like 20ms")
		}
		g.Limit = float64(d)
	}
	return g, nil
}

// GateResult is a gate judged on one row of a comparison.
type GateResult struct {
	Gate *Gate
	Row  Row
	// Crossed says the change passed the limit; Failed that it did so
	// beyond the noise (or where the noise could not be judged).
	Crossed, Failed bool
}

// noGateRowError is returned by JudgeGates for a gate that names a request
// neither run has.
type noGateRowError struct{ Gate *Gate }

func (e *noGateRowError) Error() string {
	return fmt.Sprintf("gate %q: no request named %q in either run", e.Gate.Source, e.Gate.Request)
}

// JudgeGates judges every gate on every phase of the comparison. A gate
// fails when the change crosses its limit and the change is beyond the
// noise; when the noise could not be judged (too few intervals) the
// crossing alone decides.
func JudgeGates(cmp *Comparison, gates []*Gate) ([]GateResult, error) {
	var out []GateResult
	for _, g := range gates {
		found := false
		for _, row := range cmp.Rows {
			if row.Request != g.Request || row.Metric != g.Metric {
				continue
			}
			found = true
			change := row.Change
			if g.Relative {
				change = row.Relative
			}
			res := GateResult{Gate: g, Row: row}
			if !math.IsNaN(change) {
				if g.Increase {
					res.Crossed = change > g.Limit
				} else {
					res.Crossed = change < -g.Limit
				}
			}
			res.Failed = res.Crossed && (!row.Judged || row.Beyond)
			out = append(out, res)
		}
		if !found {
			return nil, &noGateRowError{Gate: g}
		}
	}
	return out, nil
}

// AnyGateFailed reports whether a gate failed.
func AnyGateFailed(rs []GateResult) bool {
	for _, r := range rs {
		if r.Failed {
			return true
		}
	}
	return false
}
