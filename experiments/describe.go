package experiments

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/faultline-dev/faultline/loadgen"
)

// Describe prints the plan: what would start, the load, and the timeline of
// phases, faults and checks. `faultline run --dry-run` prints it and stops.
func (p *Plan) Describe(w io.Writer) error {
	e := p.Exp
	fmt.Fprintf(w, "experiment %s (%s)\n", e.Name, p.File)
	if e.Description != "" {
		fmt.Fprintf(w, "  %s\n", strings.TrimSpace(e.Description))
	}
	if p.TimeScale != 1 {
		fmt.Fprintf(w, "  time scale %g: every phase, fault and window below is scaled\n", p.TimeScale)
	}
	describeTargets(w, e)
	describePlanLoad(w, p)
	if err := describeTimeline(w, p); err != nil {
		return err
	}
	describeChecks(w, p)
	return nil
}

// describeTargets prints what the run starts or points at, and the proxies
// between them.
func describeTargets(w io.Writer, e *Experiment) {
	fmt.Fprintln(w, "\ntargets")
	if e.Targets.Shop {
		only := e.Targets.Only
		if len(only) == 0 {
			only = []string{"all services"}
		}
		fmt.Fprintf(w, "  bundled shop, in-process: %s\n", strings.Join(only, ", "))
	}
	describeKubeTargets(w, e.Targets)
	for name, u := range e.Targets.External {
		fmt.Fprintf(w, "  %s = %s\n", name, u)
	}
	if len(e.Proxies) > 0 {
		server := "embedded Toxiproxy"
		if e.Toxiproxy.URL != "" {
			server = "Toxiproxy at " + e.Toxiproxy.URL
		}
		fmt.Fprintf(w, "\nproxies (%s)\n", server)
		for _, px := range e.Proxies {
			to := px.Upstream
			if to == "" {
				to = "link " + px.Link
			} else if px.Link != "" {
				to += " (link " + px.Link + ")"
			}
			fmt.Fprintf(w, "  %s -> %s\n", px.Name, to)
		}
	}
}

// describePlanLoad prints the model, the requests and the thresholds.
func describePlanLoad(w io.Writer, p *Plan) {
	e := p.Exp
	fmt.Fprintln(w, "\nload")
	if p.Model == loadgen.Open {
		fmt.Fprintf(w, "  open model from %s; latency measured from each request's intended start\n", e.Load.Rate)
	} else {
		fmt.Fprintf(w, "  closed model, %d users; latency is service time\n", e.Load.Concurrency)
	}
	if n := e.Load.Generators; n > 0 {
		fmt.Fprintf(w, "  on %d generators, each a segment of the schedule, their intervals merged (docs/distributed.md)\n", n)
	}
	for _, r := range e.Load.Requests {
		fmt.Fprintf(w, "  %s %s %s (weight %d)\n", orDefault(r.Name, "-"), orDefault(r.Method, "GET"), r.URL, max(r.Weight, 1))
	}
	for _, t := range e.Load.Thresholds {
		fmt.Fprintf(w, "  threshold %s\n", t)
	}
}

// describeTimeline prints the phases in order, with the faults, steady
// state checks and the end of the load at their times.
func describeTimeline(w io.Writer, p *Plan) error {
	fmt.Fprintln(w, "\ntimeline")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, ph := range p.Phases {
		load := fmt.Sprintf("%.0f/s", ph.Rate)
		if p.Model == loadgen.Closed {
			load = fmt.Sprintf("%d users", ph.Concurrency)
		}
		base := ""
		if ph.Name == p.Baseline {
			base = " (baseline)"
		}
		if at, ok := p.SteadyStateAt(); ok && len(p.SteadyState) > 0 && len(p.Faults) == 0 && at == ph.Start {
			fmt.Fprintf(tw, "  %s\tsteady state checked (%d probes): the run stops unless it holds\n", secs(at), len(p.SteadyState))
		}
		fmt.Fprintf(tw, "  %s\tphase %s%s begins, load %s\n", secs(ph.Start), ph.Name, base, load)
		for i, f := range p.Faults {
			if f.Phase != ph.Name {
				continue
			}
			if i == 0 && len(p.SteadyState) > 0 {
				fmt.Fprintf(tw, "  %s\tsteady state checked (%d probes): nothing is injected unless it holds\n", secs(f.Start), len(p.SteadyState))
			}
			fmt.Fprintf(tw, "  %s\tinject %s\n", secs(f.Start), describeFault(f))
			fmt.Fprintf(tw, "  %s\trevert %s\n", secs(f.End), describeFault(f))
		}
	}
	fmt.Fprintf(tw, "  %s\tload ends; steady state checked again; hypotheses judged; rollbacks run\n", secs(p.Total))
	return tw.Flush()
}

// describeChecks prints the steady state probes, hypotheses, abort
// conditions and rollbacks.
func describeChecks(w io.Writer, p *Plan) {
	if len(p.SteadyState) > 0 {
		fmt.Fprintln(w, "\nsteady state")
		for _, pr := range p.SteadyState {
			fmt.Fprintf(w, "  %s\n", describeProbe(pr))
		}
	}
	if n := countHypotheses(p); n > 0 {
		fmt.Fprintln(w, "\nhypotheses")
		for _, ph := range p.Phases {
			for _, c := range ph.Hypotheses {
				kind := "absolute"
				if c.Relative() {
					kind = "relative: 95% bootstrap interval"
				}
				fmt.Fprintf(w, "  %s: %s  (%s)\n", ph.Name, c.Source, kind)
			}
		}
	}
	if len(p.Abort) > 0 {
		fmt.Fprintln(w, "\nabort when any stops holding")
		for _, c := range p.Abort {
			fmt.Fprintf(w, "  %s  (every interval, over the last %s)\n", c.Source, c.Window)
		}
	}
	if len(p.Rollbacks) > 0 {
		fmt.Fprintln(w, "\nrollbacks (always run at the end)")
		for i, a := range p.Rollbacks {
			what := strings.Join(a.Command, " ")
			if a.HTTP != nil {
				what = orDefault(a.HTTP.Method, "GET") + " " + a.HTTP.URL
			}
			fmt.Fprintf(w, "  %s: %s\n", orDefault(a.Name, fmt.Sprintf("rollbacks[%d]", i)), what)
		}
	}
}

func countHypotheses(p *Plan) int {
	n := 0
	for _, ph := range p.Phases {
		n += len(ph.Hypotheses)
	}
	return n
}

func describeProbe(p *Probe) string {
	name := orDefault(p.Spec.Name, "probe")
	switch c := p.Spec.Check.(type) {
	case readingCheck:
		return fmt.Sprintf("%s: %s, expect %s", name, c.describe(), p.Spec.Expect)
	case probeCheck:
		return fmt.Sprintf("%s: %s", name, c.describe())
	}
	return fmt.Sprintf("%s: %s over the load so far", name, p.Spec.Expect)
}
