package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/estimate"
	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report"
	"github.com/faultline-dev/faultline/report/output"
)

func init() { register("estimate", newEstimateCmd) }

func newEstimateCmd(e *env) *cobra.Command {
	var asJSON bool
	values := map[string]*string{}
	cmd := &cobra.Command{
		Use:   "estimate [plan.yaml] [flags]",
		Short: "Capacity estimates: back-of-envelope plans and USL fits",
		Long: `estimate turns a few numbers into a capacity plan: requests per second
(average and peak, reads and writes), storage over the retention with
replication, bandwidth, cache memory, requests in flight (Little's law) and
the instances needed. Every line shows its formula and the arithmetic.

Inputs come from a plan file, from flags named like its fields
(--daily-active-users 10M), or both: flags override the file. Quantities
carry their units: 10M, 20/day, 1KB (1000 B) or 1KiB (1024 B), 5y, 70%,
50ms, 500/s. See docs/estimate.md.

  faultline estimate examples/estimate/classic.yaml
  faultline estimate --daily-active-users 10M --requests-per-user 20/day --peak-factor 3x
  faultline estimate fit points.csv
  faultline estimate sweep http://127.0.0.1:8080/ --concurrency 1,2,4,8,16,32,64 --step 10s --slo 'p99<200ms'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			plan := &estimate.Plan{}
			baseDir := ""
			if len(args) == 1 {
				data, err := os.ReadFile(args[0])
				if err != nil {
					return usageErrorf("read plan: %w", err)
				}
				if plan, err = estimate.DecodePlan(args[0], data); err != nil {
					return exitcode.Wrap(err, exitcode.Usage)
				}
				baseDir = filepath.Dir(args[0])
			}
			for _, f := range estimate.Fields() {
				if !cmd.Flags().Changed(f.Flag) {
					continue
				}
				if err := plan.Set(f.Name, *values[f.Name], "--"+f.Flag); err != nil {
					return usageErrorf("--%s: %v", f.Flag, err)
				}
			}
			// A file named on the command line is relative to the working
			// directory, one named in the plan to the plan's folder.
			if cmd.Flags().Changed("instance-capacity-from") {
				baseDir = ""
			}
			if err := plan.Validate(baseDir); err != nil {
				return exitcode.Wrap(err, exitcode.Usage)
			}
			est := estimate.Compute(plan)
			if asJSON {
				return estimate.WriteJSON(e.stdout, est)
			}
			return est.WriteText(e.stdout)
		},
	}
	for _, f := range estimate.Fields() {
		v := &quantityFlag{kind: f.Kind}
		values[f.Name] = &v.value
		cmd.Flags().Var(v, f.Flag, f.Usage)
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of the table")
	cmd.AddCommand(newEstimateFitCmd(e), newEstimateSweepCmd(e))
	return cmd
}

// quantityFlag is a plan input given as a flag. It holds the text as
// written, parsed later by the plan so that file and flags share one parser;
// its kind names the value in --help ("--record-size size").
type quantityFlag struct {
	value string
	kind  string
}

func (q *quantityFlag) String() string     { return q.value }
func (q *quantityFlag) Set(s string) error { q.value = s; return nil }
func (q *quantityFlag) Type() string       { return q.kind }

func newEstimateFitCmd(e *env) *cobra.Command {
	var asJSON bool
	var at, htmlOut string
	cmd := &cobra.Command{
		Use:   "fit points.csv",
		Short: "Fit the Universal Scalability Law to measured (concurrency, throughput) points",
		Long: `fit reads measured points from CSV or tab-separated values, with a header
(concurrency,throughput or N,X) or without one (two columns: concurrency,
then throughput), and fits X(N) = λN / (1 + σ(N-1) + κN(N-1)) by bounded non-linear
least squares. It prints σ, κ and λ with standard errors and 95% confidence
intervals, the peak N* = sqrt((1-σ)/κ) and X(N*), which penalty dominates,
the residuals, and warnings (fewer than 6 points, σ < 0, κ near 0, N*
beyond the measurements). --at predicts the latency and concurrency at
given throughputs with the exact inverse of the law.

  faultline estimate fit points.csv
  faultline estimate fit points.csv --at 300,350 --json > capacity.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			throughputs, err := estimate.ParseThroughputs(at)
			if err != nil {
				return usageErrorf("--at: %v", err)
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return usageErrorf("read points: %w", err)
			}
			points, err := estimate.ParsePoints(args[0], bytes.NewReader(data))
			if err != nil {
				return exitcode.Wrap(err, exitcode.Usage)
			}
			fit, err := estimate.FitUSL(points)
			if err != nil {
				return usageErrorf("%s: %v", args[0], err)
			}
			rep := estimate.NewFitReport(fit, throughputs)
			if err := writeUSLPage(htmlOut, "USL fit of "+args[0], rep.WriteText, fit, nil); err != nil {
				return err
			}
			if asJSON {
				return estimate.WriteJSON(e.stdout, rep)
			}
			return rep.WriteText(e.stdout)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of the table")
	cmd.Flags().StringVar(&htmlOut, "html", "", "also write a self-contained HTML page with the plot of the points, the fitted curve and N*")
	cmd.Flags().StringVar(&at, "at", "", "throughputs to predict latency and concurrency at, comma-separated (300,350)")
	return cmd
}

// newSweepRunner returns the step runner that drives each step with the
// load engine against target.
func newSweepRunner(target string, timeout time.Duration) (estimate.StepFunc, error) {
	if target == "" {
		return nil, usageErrorf("estimate sweep: give the URL to load")
	}
	t, err := loadgen.NewTarget("GET", target)
	if err != nil {
		return nil, usageErrorf("estimate sweep: %v", err)
	}
	return estimate.LoadStep(t, timeout), nil
}

func newEstimateSweepCmd(e *env) *cobra.Command {
	var (
		asJSON                                             bool
		htmlOut                                            string
		concurrency, rates                                 string
		step, timeout                                      time.Duration
		slo, targetPeak, utilisation, headroom, redundancy string
	)
	cmd := &cobra.Command{
		Use:   "sweep [target]",
		Short: "Step the load up, measure each step and fit the Universal Scalability Law",
		Long: `sweep runs a stepped load against a target (--concurrency levels, closed
model, or --rates, open model), each held for --step, and records per step
the offered rate, the achieved rate (every response, errors included), the
successful rate (responses that were not errors), the error rate and its
causes, latency percentiles and dropped requests. It fits the Universal
Scalability Law to (concurrency, successful rate): errors are never
counted as capacity.

--slo lists the objectives every step must meet: latency ('p99<200ms') and
the error rate ('error_rate<5%'); error_rate<1% applies unless you give
one. A step that breaks the error objective ends the sweep, and the report
says which errors (HTTP 429, timeout, ...). The capacity is the highest
successful rate at which every objective held, interpolated between steps;
with --target-peak it counts the instances needed, with
--target-utilisation or --headroom and --redundancy.

  faultline estimate sweep http://127.0.0.1:8080/ --concurrency 1,2,4,8,16,32,64 --step 10s --slo 'p99<200ms' --target-peak 7000/s --headroom 30% --redundancy N+1
  faultline estimate sweep http://127.0.0.1:8080/ --rates 100/s,200/s,400/s --slo 'p99<50ms,error_rate<0.1%'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			steps, err := estimate.ParseSweepSpec(concurrency, rates, step)
			if err != nil {
				return exitcode.Wrap(err, exitcode.Usage)
			}
			opts, err := estimate.ParseCapacityOptions(slo, targetPeak, utilisation, headroom, redundancy)
			if err != nil {
				return exitcode.Wrap(err, exitcode.Usage)
			}
			if err := checkOutputs(map[string]string{"--html": htmlOut}); err != nil {
				return err
			}
			target := ""
			if len(args) == 1 {
				target = args[0]
			}
			run, err := newSweepRunner(target, timeout)
			if err != nil {
				return err
			}
			res, err := estimate.Sweep(cmd.Context(), steps, opts.SLOs, run)
			if res != nil {
				werr := writeSweepReport(e.stdout, res.Report(opts), target, htmlOut, asJSON)
				if err == nil {
					err = werr
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print JSON instead of the table")
	f.StringVar(&htmlOut, "html", "", "also write a self-contained HTML page with the plot of the steps, the fitted curve and N*")
	f.StringVar(&concurrency, "concurrency", "", "rising concurrency levels, comma-separated (1,2,4,8,16,32,64)")
	f.StringVar(&rates, "rates", "", "rising request rates, comma-separated (100/s,200/s,400/s)")
	f.DurationVar(&step, "step", 10*time.Second, "how long to hold each level")
	f.DurationVar(&timeout, "timeout", loadgen.DefaultTimeout, "per-request timeout")
	f.StringVar(&slo, "slo", "", "objectives, comma-separated: p50, p90, p99, p99.9 or mean < (or <=) a duration, error_rate < a percentage ('p99<200ms,error_rate<1%'); error_rate<1% unless given")
	f.StringVar(&targetPeak, "target-peak", "", "peak rate to plan instances for (7000/s)")
	f.StringVar(&utilisation, "target-utilisation", "", "share of an instance's capacity to plan for (70%)")
	f.StringVar(&headroom, "headroom", "", "share of capacity kept free (30%); instead of --target-utilisation")
	f.StringVar(&redundancy, "redundancy", "", "N+k spare instances (N+1)")
	return cmd
}

// writeSweepReport writes the HTML page of a sweep (when htmlOut is not
// empty), then the report as JSON or text to w. The page plots every
// step's successful rate rather than the fit's points, so it shows the
// measurements also when the fit failed or left a step out.
func writeSweepReport(w io.Writer, rep *estimate.SweepReport, target, htmlOut string, asJSON bool) error {
	var points [][2]float64
	for _, s := range rep.Steps {
		points = append(points, [2]float64{s.N(), s.Result.Successful})
	}
	if err := writeUSLPage(htmlOut, "Capacity sweep of "+target, rep.WriteText, rep.Fit, points); err != nil {
		return err
	}
	if asJSON {
		return estimate.WriteJSON(w, rep)
	}
	return rep.WriteText(w)
}

// writeUSLPage writes the HTML page of a fit to path (nothing when path is
// empty): the plot and the text report. points default to the fit's own.
func writeUSLPage(path, title string, text func(io.Writer) error, fit *estimate.USLFit, points [][2]float64) error {
	if path == "" {
		return nil
	}
	if points == nil && fit != nil {
		points = report.PointsOf(fit)
	}
	var table strings.Builder
	if err := text(&table); err != nil {
		return err
	}
	if err := output.WriteFile(path, func(w io.Writer) error {
		return report.WriteUSLHTML(w, title, table.String(), points, fit)
	}); err != nil {
		return fmt.Errorf("--html: %w", err)
	}
	return nil
}
