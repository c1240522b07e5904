package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/report"
	"github.com/faultline-dev/faultline/report/compare"
	"github.com/faultline-dev/faultline/report/merge"
	"github.com/faultline-dev/faultline/report/output"
)

func init() { register("report", newReportCmd) }

func formatList() string {
	var b strings.Builder
	for _, f := range report.Formats() {
		fmt.Fprintf(&b, "  %-9s %s\n", f.Name, f.Description)
	}
	return strings.TrimRight(b.String(), "\n")
}

func newReportCmd(e *env) *cobra.Command {
	var format, out, unit, request, phase string
	cmd := &cobra.Command{
		Use:   "report FILE",
		Short: "Render, compare and merge results files",
		Long: `report renders a results file of 'faultline load --out' (or the journal of
'faultline run') in any format: to stdout, or with -o atomically to a file
(complete or absent). Without --format, the format follows the extension
of -o (.html, .md, .xml for junit, .csv, .hgrm, .hlog, .json, .prom), else text.

Formats:
` + formatList() + `

--unit (ns, us, ms, s) sets the unit of hgrm values and csv latency columns.
--request and --phase narrow the hgrm histogram to one request name or one
phase.

The exit status is 0 once the report is written, whatever the verdicts in
it; 2 when the file is not a results file or journal, is truncated or has a
newer schema version. See docs/reports.md.`,
		Example: `  faultline report results.json
  faultline report results.json -o report.html
  faultline report results.json --format markdown >> "$GITHUB_STEP_SUMMARY"
  faultline report results.json --format hgrm --unit us --request checkout -o checkout.hgrm
  faultline report compare baseline.json results.json --fail-on 'p99:+10%'
  faultline report merge gen-a.json gen-b.json -o all.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := format
			if !cmd.Flags().Changed("format") {
				name = formatForPath(out)
			}
			f, ok := report.LookupFormat(name)
			if !ok {
				return usageErrorf("--format %q: want one of %s", name, formatNames())
			}
			scale, ok := hgrmUnits[unit]
			if !ok {
				return usageErrorf("--unit %q: want ns, us, ms or s", unit)
			}
			run, err := openRun(args[0])
			if err != nil {
				return err
			}
			if request != "" || phase != "" {
				if _, err := report.SelectLatency(run, phase, request); err != nil {
					return usageErrorf("%s: %v", args[0], err)
				}
			}
			opts := report.Options{Scale: scale, Unit: unit, Request: request, Phase: phase}
			return writeOutput(e, out, func(w io.Writer) error { return f.Render(w, run, opts) })
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "text", "output format: "+formatNames())
	fl.StringVarP(&out, "output", "o", "", "write to this file (atomically) instead of stdout")
	fl.StringVar(&unit, "unit", "ms", "unit of hgrm values and csv latencies: ns, us, ms or s")
	fl.StringVar(&request, "request", "", "hgrm: only this request name")
	fl.StringVar(&phase, "phase", "", "hgrm: only this phase")
	cmd.AddCommand(newReportCompareCmd(e), newReportMergeCmd(e))
	return cmd
}

func formatNames() string {
	var names []string
	for _, f := range report.Formats() {
		names = append(names, f.Name)
	}
	return strings.Join(names, ", ")
}

// formatForPath picks the format from an output file's extension.
func formatForPath(path string) string {
	ext := strings.ToLower(filepath.Ext(path))
	if ext == ".htm" {
		return "html"
	}
	for _, f := range report.Formats() {
		if f.Extension == ext && ext != ".txt" {
			return f.Name
		}
	}
	return "text"
}

// openRun reads a results file or journal; every problem with it is a
// usage error naming the file.
func openRun(path string) (*report.Run, error) {
	run, err := report.OpenRun(path)
	if err != nil {
		return nil, exitcode.Wrap(err, exitcode.Usage)
	}
	return run, nil
}

// writeOutput renders to stdout, or to path through a temporary file
// renamed into place.
func writeOutput(e *env, path string, render func(io.Writer) error) error {
	if path == "" {
		return render(e.stdout)
	}
	err := output.WriteFile(path, render)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// compareHelp is the long help of report compare.
const compareHelp = `compare prints, per phase, request name and metric (p50 p90 p99 p99.9
p99.99 max mean error_rate rate), the change from BASE to NEW and whether it
is beyond the noise.

Noise: a bootstrap over whole intervals. Each run's intervals are resampled
with replacement (--resamples times), the metric is recomputed from the
merged histograms of each resample, and the 2.5th and 97.5th percentiles of
the differences bound the change at 95%. A change is "beyond noise" only
when that interval excludes zero. Runs of fewer than 5 intervals, maxima
and minima, and percentiles with fewer than 5 samples above them are not
judged.

--fail-on [REQUEST:]METRIC:(+|-)LIMIT (repeatable) is a regression gate:
exit 1 when the change crosses the limit beyond the noise (or where the
noise is not judged). METRIC is any metric 'faultline load --threshold'
knows. LIMIT is a percentage of the base value ('p99:+10%', 'rate:-5%'), a
duration ('p99.9:+20ms'), percentage points for a ratio ('error_rate:+1pp'),
a rate ('rate:-50/s') or a number for a count ('errors:+10').`

func newReportCompareCmd(e *env) *cobra.Command {
	var (
		failOn      []string
		format, out string
		opts        compare.Options
	)
	cmd := &cobra.Command{
		Use:   "compare BASE NEW",
		Short: "Compare two runs, percentile by percentile, against the noise",
		Long:  compareHelp,
		Example: `  faultline report compare baseline.json results.json
  faultline report compare baseline.json results.json --fail-on 'p99:+10%' --fail-on 'error_rate:+0.5pp'
  faultline report compare a.json b.json --format markdown >> "$GITHUB_STEP_SUMMARY"`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCompare(e, args, failOn, format, out, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&failOn, "fail-on", nil, "regression gate [REQUEST:]METRIC:(+|-)LIMIT, e.g. 'p99:+10%' (repeatable)")
	fl.StringVar(&format, "format", "text", "output format: text, markdown or json")
	fl.StringVarP(&out, "output", "o", "", "write to this file (atomically) instead of stdout")
	fl.IntVar(&opts.Resamples, "resamples", 1000, "bootstrap resamples for the noise estimate")
	fl.Uint64Var(&opts.Seed, "seed", 0, "seed of the bootstrap (the same seed gives the same output)")
	return cmd
}

// runCompare compares the runs of two files, writes the comparison in the
// format asked for and decides the exit code from the gates.
func runCompare(e *env, args, failOn []string, format, out string, opts compare.Options) error {
	var gates []*compare.Gate
	var extra []string
	for _, src := range failOn {
		g, err := compare.ParseGate(src)
		if err != nil {
			return usageErrorf("--fail-on: %v", err)
		}
		gates = append(gates, g)
		extra = append(extra, g.Metric)
	}
	write, ok := map[string]func(io.Writer, compare.Side, compare.Side, *compare.Comparison, []compare.GateResult) error{
		"text": compare.WriteText, "markdown": compare.WriteMarkdown, "json": compare.WriteJSON,
	}[format]
	if !ok {
		return usageErrorf("--format %q: want text, markdown or json", format)
	}
	if opts.Resamples < 0 {
		return usageErrorf("--resamples %d: must be positive", opts.Resamples)
	}
	base, err := openRun(args[0])
	if err != nil {
		return err
	}
	next, err := openRun(args[1])
	if err != nil {
		return err
	}
	cmp, err := compare.Runs(base, next, extra, opts)
	if err != nil {
		return exitcode.Wrap(err, exitcode.Usage)
	}
	verdicts, err := compare.JudgeGates(cmp, gates)
	if err != nil {
		return exitcode.Wrap(err, exitcode.Usage)
	}
	b := compare.Side{File: args[0], Title: base.Title, Intervals: base.IntervalCount()}
	n := compare.Side{File: args[1], Title: next.Title, Intervals: next.IntervalCount()}
	if err := writeOutput(e, out, func(w io.Writer) error { return write(w, b, n, cmp, verdicts) }); err != nil {
		return err
	}
	if out != "" && len(verdicts) > 0 {
		// The table went to a file; the gates' verdicts belong in
		// the log of the job that ran them.
		if err := compare.WriteGates(e.stdout, verdicts); err != nil {
			return err
		}
	}
	if compare.AnyGateFailed(verdicts) {
		return exitSilently(exitcode.Failed)
	}
	return nil
}

func newReportMergeCmd(e *env) *cobra.Command {
	var (
		out  string
		opts merge.Options
	)
	cmd := &cobra.Command{
		Use:   "merge A B ... -o OUT",
		Short: "Merge the results files of load generators that ran at once",
		Long: `merge combines the results files of several load generators that drove
the same system at the same time (a distributed run) into one results file.
Intervals are aligned by wall-clock time, histograms merged exactly, the
summary recomputed from the merged histograms, and the thresholds of every
input judged again on the merged data. The merged file is a results file
like any other: render it with 'faultline report', compare it, merge it again.
Runs that never ran at the same time are refused (exit 2) unless
--allow-disjoint is given: merged, they would report a rate and latencies no
system ever saw.

The merged summary is printed; the exit status is 1 when a threshold fails
on the merged data, as 'faultline load' would.`,
		Example: `  faultline report merge gen-a.json gen-b.json gen-c.json -o all.json
  faultline report all.json -o all.html`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageErrorf("merge needs -o: the file to write the merged results to")
			}
			summary, err := merge.Files(args, out, opts)
			var write *merge.OutputError
			if errors.As(err, &write) {
				return fmt.Errorf("write %s: %w", out, err)
			}
			if err != nil {
				return exitcode.Wrap(err, exitcode.Usage)
			}
			if err := report.WriteSummary(e.stdout, summary); err != nil {
				return err
			}
			for _, t := range summary.Thresholds {
				if !t.Held {
					return exitSilently(exitcode.Failed)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "the merged results file to write (required)")
	cmd.Flags().BoolVar(&opts.AllowDisjoint, "allow-disjoint", false, "merge runs even when they did not overlap in time")
	return cmd
}
