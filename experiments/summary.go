package experiments

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/faultline-dev/faultline/internal/distrib"
	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report"

	"github.com/faultline-dev/faultline/internal/metric"
)

// PhaseSummary is the load's figures over one phase.
type PhaseSummary struct {
	Name                string
	Start, End          time.Duration
	Requests            int64
	Rate, ErrorRate     float64
	P50, P99, P999, Max float64 // nanoseconds; NaN with no requests
}

func (r *runner) phaseSummaries() []PhaseSummary {
	var out []PhaseSummary
	for _, p := range r.plan.Phases {
		ss := r.archive.phase(p.Name)
		val := func(m string) float64 { return valueOf(metric.Must(m), "", ss) }
		out = append(out, PhaseSummary{
			Name: p.Name, Start: p.Start, End: p.End, Requests: int64(val("requests")),
			Rate: val("rate"), ErrorRate: val("error_rate"),
			P50: val("p50"), P99: val("p99"), P999: val("p99.9"), Max: val("max"),
		})
	}
	return out
}

// WriteSummary prints the outcome of a run: the figures of each phase, the
// faults with their times, and every verdict.
func WriteSummary(w io.Writer, out *Result) error {
	verdict := map[exitcode.Code]string{
		exitcode.OK:           "completed: every hypothesis held",
		exitcode.Failed:       "completed: a hypothesis, probe or threshold did not hold",
		exitcode.SteadyState:  "the steady state did not hold before any fault: nothing was injected",
		exitcode.Aborted:      "aborted by an abort condition: faults reverted",
		exitcode.Runtime:      "runtime error",
		exitcode.RevertFailed: "A FAULT COULD NOT BE REVERTED: the system may still be faulted",
		exitcode.Interrupted:  "interrupted: faults reverted",
	}[out.Code]
	fmt.Fprintf(w, "experiment %s: %s (exit %d)\n", out.Plan.Exp.Name, verdict, out.Code)
	if out.Message != "" && out.Code != exitcode.OK {
		fmt.Fprintf(w, "  %s\n", out.Message)
	}
	if len(out.Phases) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		latency := "latency from intended start"
		if out.Plan.Model == loadgen.Closed {
			latency = "service time"
		}
		fmt.Fprintf(tw, "phase\ttime\trequests\trate\terrors\tp50\tp99\tp99.9\tmax\t(%s)\n", latency)
		for _, p := range out.Phases {
			fmt.Fprintf(tw, "%s\t%s-%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", p.Name, secs(p.Start), secs(p.End), p.Requests,
				metric.Rate.Format(p.Rate), metric.Ratio.Format(p.ErrorRate),
				metric.Duration.Format(p.P50), metric.Duration.Format(p.P99), metric.Duration.Format(p.P999), metric.Duration.Format(p.Max))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if out.Report != nil {
		if err := report.WriteBreakdown(w, out.Report); err != nil {
			return err
		}
	}
	if out.Generators != nil && out.Generators.Result != nil {
		if err := distrib.WriteReport(w, out.Generators, out.Start); err != nil {
			return err
		}
	}
	if len(out.Faults) > 0 {
		fmt.Fprintln(w, "\nfaults")
		for _, f := range out.Faults {
			line := fmt.Sprintf("  %7.1fs  %-13s %s", f.AtMs/1000, f.Event, orDefault(f.Describe, f.Label))
			if f.Error != "" {
				line += ": " + f.Error
			}
			if f.Event == "not_injected" && f.Note != "" {
				line += ": " + f.Note
			}
			fmt.Fprintln(w, line)
		}
	}
	groups := []struct{ kind, title string }{
		{"steady_state_before", "steady state before the first fault"},
		{"steady_state_after", "steady state after the last phase"},
		{"abort", "abort conditions"},
		{"hypothesis", "hypotheses"},
		{"threshold", "thresholds"},
	}
	for _, g := range groups {
		var lines []string
		for _, c := range out.Checks {
			if c.Kind != g.kind {
				continue
			}
			what := orDefault(c.Expression, c.Name)
			if c.Kind == "steady_state_before" || c.Kind == "steady_state_after" {
				what = c.Name
			}
			if c.Phase != "" && c.Kind == "hypothesis" {
				what = c.Phase + ": " + what
			}
			lines = append(lines, fmt.Sprintf("  %-12s %s\n  %12s %s", strings.ToUpper(c.Verdict[:1])+c.Verdict[1:], what, "", c.Detail))
		}
		if len(lines) > 0 {
			fmt.Fprintf(w, "\n%s\n%s\n", g.title, strings.Join(lines, "\n"))
		}
	}
	fmt.Fprintf(w, "\njournal  %s\n", out.Journal)
	for _, rp := range out.Reports {
		fmt.Fprintf(w, "report   %s\n", rp)
	}
	return nil
}

func secs(d time.Duration) string {
	s := d.Seconds()
	if s == math.Trunc(s) {
		return fmt.Sprintf("%.0fs", s)
	}
	return fmt.Sprintf("%.1fs", s)
}
