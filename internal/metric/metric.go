// Package metric is faultline's one vocabulary of load metrics: their
// names (p99, service.mean, error_rate, rate, ...), their units, how a
// value of each unit is written and printed, and how each metric is
// computed from a tally of intervals of load for one request name.
//
// Thresholds of `faultline load` (loadgen), the hypotheses and abort
// conditions of experiments, `faultline report compare` and its gates all
// name metrics here, so a name means the same figure everywhere.
package metric

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Unit is the kind of quantity a metric or a written value is.
type Unit int

// The units. A Count is a plain number: a count of requests, or a number
// written without a unit.
const (
	Count    Unit = iota
	Duration      // nanoseconds
	Ratio         // a fraction: 1% is 0.01
	Rate          // per second
)

func (u Unit) String() string {
	return [...]string{"a number", "a duration", "a ratio", "a rate"}[u]
}

// Compatible reports whether values of units a and b may be compared or
// added: a plain number goes with counts, ratios and rates, never with
// durations (250 is not 250ms).
func Compatible(a, b Unit) bool {
	if a == b {
		return true
	}
	if a == Duration || b == Duration {
		return false
	}
	return a == Count || b == Count
}

// Histogram names the histogram a latency statistic reads.
type Histogram int

// The histograms of an interval. Lag is the send lag of the open model,
// recorded for the whole load whatever the request name.
const (
	None    Histogram = iota // not a latency statistic
	Latency                  // from the intended send time (open model)
	Service                  // from the actual send
	Lag                      // send lag
)

// stat is what a metric computes.
type stat int

const (
	statPercentile stat = iota
	statMean
	statMin
	statMax
	statStdDev
	statErrorRate
	statRate
	statTarget
	statRequests
	statErrors
	statDropped
	statDroppedRate
)

// Metric is one named figure.
type Metric struct {
	Name string
	Unit Unit
	// Histogram is the histogram a latency statistic reads (None for
	// counts and ratios).
	Histogram Histogram
	// Percentile is N of a pN metric, 0 for any other.
	Percentile float64
	stat       stat
}

// Names documents the metrics a load measures, for help texts and errors;
// expressions in experiments may also name target (see ShortNames).
const Names = `pN (p50, p99, p99.9, any 0 < N <= 100), mean, min, max, stdev   latency (from the intended start in the open model)
service.pN, service.mean, ...                                   service time (from the actual send)
lag.pN, lag.mean, ...                                           send lag (open model)
error_rate   failed / completed requests            rate      completed requests per second
requests     completed requests                     errors    failed requests
dropped      requests dropped at --max-in-flight    dropped_rate  dropped / scheduled`

// ShortNames lists every metric on one line, for errors in expressions:
// those of Names and target, the rate the schedule asks for.
const ShortNames = "p50, p90, p99, p99.9 (any pN), mean, min, max, stdev, service.pN, lag.pN, error_rate, rate, target, requests, errors, dropped, dropped_rate"

var plain = map[string]Metric{
	"error_rate":   {Name: "error_rate", Unit: Ratio, stat: statErrorRate},
	"rate":         {Name: "rate", Unit: Rate, stat: statRate},
	"target":       {Name: "target", Unit: Rate, stat: statTarget},
	"requests":     {Name: "requests", Unit: Count, stat: statRequests},
	"errors":       {Name: "errors", Unit: Count, stat: statErrors},
	"dropped":      {Name: "dropped", Unit: Count, stat: statDropped},
	"dropped_rate": {Name: "dropped_rate", Unit: Ratio, stat: statDroppedRate},
}

var latencyStats = map[string]stat{"mean": statMean, "min": statMin, "max": statMax, "stdev": statStdDev}

// Lookup finds a metric by name.
func Lookup(name string) (Metric, error) {
	if m, ok := plain[name]; ok {
		return m, nil
	}
	h, rest := Latency, name
	if r, ok := strings.CutPrefix(name, "service."); ok {
		h, rest = Service, r
	} else if r, ok := strings.CutPrefix(name, "lag."); ok {
		h, rest = Lag, r
	}
	m := Metric{Name: name, Unit: Duration, Histogram: h}
	if s, ok := latencyStats[rest]; ok {
		m.stat = s
		return m, nil
	}
	if p, ok := strings.CutPrefix(rest, "p"); ok {
		v, err := strconv.ParseFloat(p, 64)
		if err == nil && v > 0 && v <= 100 {
			m.stat, m.Percentile = statPercentile, v
			return m, nil
		}
	}
	return Metric{}, fmt.Errorf("unknown metric %q", name)
}

// Must looks up a metric named in code, where a name outside the
// vocabulary is a programming error.
func Must(name string) Metric {
	m, err := Lookup(name)
	if err != nil {
		panic(err)
	}
	return m
}

// LookupMeasured finds a metric that the intervals of a load measure:
// any but target, which only an experiment's phases know.
func LookupMeasured(name string) (Metric, error) {
	m, err := Lookup(name)
	if err == nil && m.stat == statTarget {
		return Metric{}, errors.New("target is the rate an experiment's phase asks for: only hypotheses know it")
	}
	return m, err
}

// OneSample reports whether the metric is a minimum or maximum: one
// request's value, which a bootstrap cannot bound (a resample never
// exceeds the observed maximum).
func (m Metric) OneSample() bool { return m.stat == statMin || m.stat == statMax }
