package experiments

import (
	"context"
	"fmt"
	"strings"

	"github.com/faultline-dev/faultline/internal/distrib"
	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/loadgen"
)

// MaxGenerators bounds load.generators (and --generators): far beyond what
// one coordinator has been measured to merge (docs/distributed.md), and
// enough to catch a typo.
const MaxGenerators = 1000

// startGenerators starts the workers when the load runs on several
// generators.
func (e *environment) startGenerators(ctx context.Context) error {
	n := e.opts.Generators
	if n <= 0 {
		n = e.plan.Exp.Load.Generators
	}
	if n <= 0 {
		return nil
	}
	if e.opts.StartGenerators == nil {
		return exitcode.Errorf(exitcode.Usage, "load.generators: %d generators asked for, but this runner cannot start workers", n)
	}
	image := e.opts.Image
	if k := e.plan.Exp.Targets.Kubernetes; image == "" && k != nil {
		image = k.Image
	}
	cfg, stop, err := e.opts.StartGenerators(ctx, GeneratorRequest{
		Count: n, RunID: e.runID, Kube: e.kubeConfig(), Image: image, LedgerPath: e.opts.LedgerPath, Log: e.say,
		Length: e.plan.Total,
	})
	if err != nil {
		return fmt.Errorf("start %d generators: %w", n, err)
	}
	e.gens, e.stopGens = cfg, stop
	names := make([]string, len(cfg.Workers))
	for i, w := range cfg.Workers {
		names[i] = w.Name
		if names[i] == "" {
			names[i] = w.URL.String()
		}
	}
	e.say("generators %d: %s", n, strings.Join(names, ", "))
	return nil
}

// distributed runs the load on the generators: each runs its segment of
// spec from one common start, and their merged intervals reach the
// timeline as one process's would.
func (r *runner) distributed(spec loadgen.Spec) func(context.Context, loadgen.Options) (*loadgen.Result, error) {
	return func(ctx context.Context, opts loadgen.Options) (*loadgen.Result, error) {
		cfg := *r.env.gens
		cfg.Spec, cfg.OnStart, cfg.OnInterval = spec, opts.OnStart, opts.OnInterval
		out, err := distrib.Run(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("generators: %w", err)
		}
		// Read once the load is done: the done channel orders it.
		r.res.Generators = out
		return out.Result, nil
	}
}

// noteGenerators records in the journal what became of each generator
// and ends a run that lost one with a runtime error (exit 5), after its
// verdicts were judged and stored: they cover less load than was asked
// for. A lagging generator is noted, as a saturated single one would be.
func (r *runner) noteGenerators() {
	g := r.res.Generators
	if g == nil {
		return
	}
	var lost []string
	for _, w := range g.Workers {
		switch {
		case w.State != distrib.StateOK:
			lost = append(lost, fmt.Sprintf("%s (segment %s, %s)", w.Name, w.Segment, w.State))
			r.note("generator %s (segment %s) %s since %+.1fs: %s; %d of its %d planned requests unreported, counted as not sent",
				w.Name, w.Segment, strings.ToUpper(w.State), w.Since.Sub(r.clock.start).Seconds(), w.Reason, w.NotSent, w.Planned)
		case w.Lagging:
			r.note("generator %s (segment %s) LAGGING: send lag p99 up to %.1fms from %+.1fs",
				w.Name, w.Segment, w.WorstSendLagMs, w.LaggingSince.Sub(r.clock.start).Seconds())
		}
	}
	if len(lost) > 0 {
		r.fail(exitcode.Runtime, fmt.Sprintf("degraded run: lost %s; the verdicts cover only the load that was sent", strings.Join(lost, ", ")))
	}
}
