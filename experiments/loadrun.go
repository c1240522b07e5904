package experiments

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/internal/distrib"
	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report"
	"github.com/faultline-dev/faultline/report/output"
	"github.com/faultline-dev/faultline/report/results"
)

// LoadRun is a plain load, as faultline load runs it: one schedule, no
// phases or faults, thresholds judged over the whole run.
type LoadRun struct {
	Spec       loadgen.Spec
	Thresholds []*loadgen.Threshold
	// ResultsPath, when set, receives the results file (every interval's
	// histograms, then the summary).
	ResultsPath string
	// HgrmPath, when set, receives the latency distribution in .hgrm
	// layout, values in HgrmScale units (report.Milliseconds, ...).
	HgrmPath  string
	HgrmScale float64
	// Summary receives the summary at the end.
	Summary io.Writer
	// Progress, when set, receives a live progress line redrawn in place
	// (a terminal).
	Progress io.Writer
	// Live, when set, receives every interval as it ends (live metrics).
	Live LiveSink
	// Generators, when set, runs the load on these workers (each a
	// segment of the schedule) and judges their merged intervals; its
	// Spec and OnInterval are filled in. Nil runs it in this process.
	Generators *distrib.Config
}

// LiveSink receives the load's intervals as they end, each with the phase
// it fell in ("" in a plain load) and the kinds of the faults active then:
// internal/live serves and pushes them as Prometheus metrics.
type LiveSink interface {
	Interval(iv *loadgen.Stats, phase string, faults []string)
}

// RunLoad runs the load and writes its summary and files. The code says
// how it went: OK, Failed when a threshold did not hold, Interrupted when
// ctx ended it. An error carries its own code (internal/exitcode): Usage
// when the load cannot start (nothing was sent), Runtime when no request
// got a response or a file could not be written.
func RunLoad(ctx context.Context, lr LoadRun) (exitcode.Code, error) {
	opts, err := lr.Spec.Options()
	if err != nil {
		return exitcode.Usage, exitcode.Wrap(err, exitcode.Usage)
	}
	// Every output is checked before anything is sent: a folder that
	// does not exist must not cost the load that ran.
	for _, out := range []struct{ what, path string }{{"results file", lr.ResultsPath}, {"hgrm file", lr.HgrmPath}} {
		if out.path == "" {
			continue
		}
		if err := output.Check(out.path); err != nil {
			return exitcode.Usage, exitcode.Wrap(fmt.Errorf("%s: %w", out.what, err), exitcode.Usage)
		}
	}
	evaluator := loadgen.NewEvaluator(lr.Thresholds)
	start := lr.startAt(time.Now())
	var resultsFile *results.Writer
	if lr.ResultsPath != "" {
		head, err := results.NewHeader(lr.Spec.Tool, opts.Model, start, opts.Schedule.Duration(), loadgen.MeanRate(opts.Schedule), lr.describe(opts))
		if err != nil {
			return exitcode.Runtime, err
		}
		if resultsFile, err = results.Create(lr.ResultsPath, head); err != nil {
			return exitcode.Usage, exitcode.Wrap(fmt.Errorf("results file: %w", err), exitcode.Usage)
		}
	}
	var progress *loadgen.Progress
	opts.OnInterval = func(iv *loadgen.Stats) {
		evaluator.Observe(iv)
		if lr.Live != nil {
			lr.Live.Interval(iv, "", nil)
		}
		if resultsFile != nil {
			resultsFile.WriteInterval(iv)
		}
		if lr.Progress != nil {
			if progress == nil {
				progress = loadgen.NewProgress(lr.Progress, opts.Schedule, start)
			}
			progress.Update(iv)
		}
	}
	res, gens, err := lr.generate(ctx, opts)
	if progress != nil {
		progress.Done()
	}
	if err != nil {
		if resultsFile != nil {
			resultsFile.Abort()
		}
		return exitcode.Of(err), err
	}
	verdicts := evaluator.Results(res.Total)
	if err := writeLoadOutputs(lr, res, verdicts, resultsFile, gens); err != nil {
		return exitcode.Runtime, err
	}
	code, err := loadCode(res, verdicts)
	return degradedCode(code, err, gens)
}

// writeLoadOutputs writes the summary, closes the results file and writes
// the .hgrm file.
func writeLoadOutputs(lr LoadRun, res *loadgen.Result, verdicts []loadgen.ThresholdResult, resultsFile *results.Writer, gens *distrib.Outcome) error {
	summary := report.Summarize(res, verdicts)
	if err := report.WriteSummary(lr.Summary, summary); err != nil {
		return err
	}
	if gens != nil {
		if err := distrib.WriteReport(lr.Summary, gens, res.Start); err != nil {
			return err
		}
	}
	if resultsFile != nil {
		if err := resultsFile.Close(res.End, withGenerators(summary, gens)); err != nil {
			return err
		}
	}
	if lr.HgrmPath != "" {
		if err := output.WriteFile(lr.HgrmPath, func(w io.Writer) error {
			return report.WriteHgrm(w, res.Total.Latency(""), lr.HgrmScale, report.DefaultTicksPerHalfDistance)
		}); err != nil {
			return fmt.Errorf("hgrm file: %w", err)
		}
	}
	return nil
}

// loadCode is a finished load's exit code, by the same precedence as a
// run's (see ending): an interruption outweighs a target that never
// answered (an error: the thresholds mean nothing), which outweighs the
// thresholds.
func loadCode(res *loadgen.Result, verdicts []loadgen.ThresholdResult) (exitcode.Code, error) {
	var e ending
	if !loadgen.AllHeld(verdicts) {
		e.settle(exitcode.Failed, "")
	}
	var unreachable error
	if res.Total.Responses("") == 0 && res.Total.Completed("") > 0 {
		unreachable = exitcode.Errorf(exitcode.Runtime, "no request got a response: the target is unreachable (%s)", errorClassesLine(res.Total))
		e.settle(exitcode.Runtime, unreachable.Error())
	}
	if res.Interrupted {
		e.settle(exitcode.Interrupted, "interrupted")
	}
	if e.code != exitcode.Runtime {
		unreachable = nil // outweighed: not an error to print
	}
	return e.code, unreachable
}

func errorClassesLine(s *loadgen.Stats) string {
	var parts []string
	for _, c := range loadgen.ErrorClasses {
		if n := s.ErrorsByClass("")[c]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d", c, n))
		}
	}
	return strings.Join(parts, ", ")
}

// describeLoad is the load as stored in the results file.
func describeLoad(s loadgen.Spec, o loadgen.Options) map[string]any {
	targets := make([]map[string]any, len(o.Targets))
	for i, t := range o.Targets {
		targets[i] = map[string]any{"name": t.Name, "method": t.Method, "url": t.URL.String(), "weight": t.Weight}
		if targets[i]["name"] == "" {
			targets[i]["name"] = t.DefaultName()
		}
	}
	stages := make([]map[string]any, len(s.Shape.Stages))
	for i, st := range s.Shape.Stages {
		stages[i] = map[string]any{"duration": st.Duration.String(), "target": st.Target}
	}
	d := map[string]any{
		"model": o.Model, "rate": s.Shape.Rate, "stages": stages, "duration": s.Shape.Duration.String(),
		"poisson": s.Shape.Poisson, "connections": o.Connections, "max_in_flight": o.MaxInFlight,
		"concurrency": s.Shape.Concurrency, "think_time": o.ThinkTime.String(), "timeout": o.Timeout.String(),
		"http2": o.HTTP2, "engine": o.Engine, "targets": targets,
	}
	if s.Segment.Count > 1 {
		d["segment"] = s.Segment.String()
	}
	return d
}
