package experiments

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/internal/distrib"
	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report"
)

// startAt is when the load's schedule begins: now in this process, or a
// lead time ahead for generators, which all begin then on one clock.
func (lr LoadRun) startAt(now time.Time) time.Time {
	if lr.Generators == nil {
		return now
	}
	lead := lr.Generators.Lead
	if lead == 0 {
		lead = distrib.DefaultLead
	}
	lr.Generators.Start = now.Add(lead)
	return lr.Generators.Start
}

// generate runs the load: in this process, or on the generators, whose
// merged intervals reach opts.OnInterval as one process's would. An error
// carries its code: Usage when this process cannot run the load, Runtime
// when a generator cannot be greeted or refuses (nothing was sent then).
func (lr LoadRun) generate(ctx context.Context, opts loadgen.Options) (*loadgen.Result, *distrib.Outcome, error) {
	if lr.Generators == nil {
		res, err := loadgen.Run(ctx, opts)
		return res, nil, exitcode.Wrap(err, exitcode.Usage)
	}
	cfg := *lr.Generators
	cfg.Spec, cfg.OnInterval = lr.Spec, opts.OnInterval
	out, err := distrib.Run(ctx, cfg)
	if err != nil {
		return nil, nil, exitcode.WrapIfNone(fmt.Errorf("generators: %w", err), exitcode.Runtime)
	}
	return out.Result, out, nil
}

// withGenerators is the summary as the results file stores it: with the
// workers' reports when generators ran.
func withGenerators(s *report.Summary, gens *distrib.Outcome) any {
	if gens == nil {
		return s
	}
	return struct {
		*report.Summary
		Degraded   bool                   `json:"degraded"`
		Generators []distrib.WorkerReport `json:"generators"`
	}{s, gens.Degraded(), gens.Workers}
}

// degradedCode is the exit code of a load that lost a generator: a
// runtime error, whatever the thresholds said, since they were judged on
// less than the load asked for; an interruption still outweighs it.
func degradedCode(code exitcode.Code, err error, gens *distrib.Outcome) (exitcode.Code, error) {
	if gens == nil || !gens.Degraded() || code == exitcode.Interrupted || code == exitcode.Runtime {
		return code, err
	}
	var lost []string
	for _, w := range gens.Workers {
		if w.State != distrib.StateOK {
			lost = append(lost, fmt.Sprintf("%s (segment %s, %s)", w.Name, w.Segment, w.State))
		}
	}
	return exitcode.Runtime, exitcode.Errorf(exitcode.Runtime, "degraded run: lost %s; the verdict covers only the load that was sent", strings.Join(lost, ", "))
}

// describe is the load as stored in the results file, with the number of
// generators when there are several.
func (lr LoadRun) describe(opts loadgen.Options) map[string]any {
	d := describeLoad(lr.Spec, opts)
	if lr.Generators != nil {
		d["generators"] = len(lr.Generators.Workers)
	}
	return d
}
