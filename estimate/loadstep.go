package estimate

import (
	"context"
	"fmt"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
)

// StepResultFrom turns what the load engine measured during one sweep step
// into the step's figures. Achieved counts every response per second of the
// step, errors included, and Successful only those that were not errors. A
// closed-model step offers what its workers sent; an open-model step offers
// its rate. A closed-model step holds its concurrency, and an open-model
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
	r.ErrorKinds = errorKinds(t)
	if elapsed > 0 {
		r.Achieved = float64(r.Count) / elapsed
		r.Successful = float64(r.Count-r.Errors) / elapsed
	}
	if step.Concurrency > 0 {
		r.Concurrency = step.Concurrency
		r.Offered = r.Achieved
		if elapsed > 0 && t.Scheduled > r.Count {
			r.Offered = float64(t.Scheduled) / elapsed
		}
	} else {
		r.Offered = step.Rate
		r.Concurrency = int(r.Achieved*r.Mean.Seconds() + 0.5)
	}
	return r
}

// errorKinds counts the failed requests by HTTP status ("HTTP 429") and by
// transport error class ("timeout").
func errorKinds(t *loadgen.Stats) map[string]int64 {
	kinds := map[string]int64{}
	for code, n := range t.StatusCounts("") {
		if code >= 400 && n > 0 {
			kinds[fmt.Sprintf("HTTP %d", code)] += n
		}
	}
	for class, n := range t.ErrorsByClass("") {
		if n > 0 {
			kinds[string(class)] += n
		}
	}
	if len(kinds) == 0 {
		return nil
	}
	return kinds
}

// LoadSpec is the load of one sweep step against target, in the form
// faultline load and faultline run build their loads from.
func LoadSpec(step Step, target loadgen.Target, timeout time.Duration) loadgen.Spec {
	spec := loadgen.Spec{Targets: []loadgen.Target{target}, Timeout: timeout,
		Shape: loadgen.Shape{Model: loadgen.Open, Rate: step.Rate, Duration: step.Duration}}
	if step.Concurrency > 0 {
		spec.Shape = loadgen.Shape{Model: loadgen.Closed, Concurrency: step.Concurrency, Duration: step.Duration}
	}
	return spec
}

// LoadStep returns the StepFunc that drives each step with the load engine
// against target, each request bounded by timeout. An interrupted step
// returns what it measured together with the context's error.
func LoadStep(target loadgen.Target, timeout time.Duration) StepFunc {
	return func(ctx context.Context, step Step) (StepResult, error) {
		opts, err := LoadSpec(step, target, timeout).Options()
		if err != nil {
			return StepResult{}, err
		}
		res, err := loadgen.Run(ctx, opts)
		if err != nil {
			return StepResult{}, err
		}
		if res.Interrupted {
			return StepResultFrom(step, res), ctx.Err()
		}
		return StepResultFrom(step, res), nil
	}
}
