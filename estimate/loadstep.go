package estimate

import (
	"time"

	"github.com/faultline-dev/faultline/loadgen"
)

// StepResultFrom turns what the load engine measured during one sweep step
// into the step's figures. Achieved counts successful responses per second
// of the step; a closed-model step holds its concurrency, and an open-model
// step's concurrency is the mean number in flight by Little's law (achieved
// rate times mean latency).
func StepResultFrom(step Step, res *loadgen.Result) StepResult {
	t := res.Total
	lat := t.Latency("")
	elapsed := res.End.Sub(res.Start).Seconds()
	r := StepResult{
		Errors:  t.Failed(""),
		Dropped: t.Dropped,
		Count:   t.Completed(""),
		Mean:    loadgen.DurationOf(lat.Mean()),
		P50:     loadgen.Percentile(lat, 50),
		P90:     loadgen.Percentile(lat, 90),
		P99:     loadgen.Percentile(lat, 99),
		P999:    loadgen.Percentile(lat, 99.9),
	}
	if elapsed > 0 {
		r.Achieved = float64(r.Count-r.Errors) / elapsed
	}
	if step.Concurrency > 0 {
		r.Concurrency = step.Concurrency
		r.Offered = r.Achieved
	} else {
		r.Offered = step.Rate
		r.Concurrency = int(r.Achieved*r.Mean.Seconds() + 0.5)
	}
	return r
}

// LoadOptions is the load engine's configuration for one sweep step
// against target.
func LoadOptions(step Step, target loadgen.Target, timeout time.Duration) loadgen.Options {
	o := loadgen.Options{Targets: []loadgen.Target{target}, Duration: step.Duration, Timeout: timeout}
	if step.Concurrency > 0 {
		o.Model, o.Concurrency = loadgen.Closed, step.Concurrency
	} else {
		o.Model, o.Rate = loadgen.Open, step.Rate
	}
	return o
}
