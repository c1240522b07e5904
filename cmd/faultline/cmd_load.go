package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report"
)

func init() { register("load", newLoadCmd) }

type loadFlags struct {
	rate, duration, thinkTime             string
	stages, headers, thresholds           []string
	poisson, http2, insecure, quiet       bool
	seed                                  uint64
	maxInFlight, connections, concurrency int
	method, body, targetsFile, name       string
	timeout, connectTimeout, grace        time.Duration
	caFile, certFile, keyFile, out, hgrm  string
	hgrmUnit                              string
}

func newLoadCmd(e *env) *cobra.Command {
	var f loadFlags
	cmd := &cobra.Command{
		Use:   "load [URL]",
		Short: "Drive HTTP load at a URL and report HDR latency",
		Long: `Drive HTTP load at a URL (or at the targets of a targets file) and report
latency from HdrHistograms.

Open model (--rate): requests arrive on a schedule whatever the server does,
and latency is measured from each request's intended start, so a stalled
server shows in the tail. Requests wait for a free connection (the wait
counts); beyond --max-in-flight they are dropped and counted.

Closed model (--concurrency): each virtual user sends its next request when
the previous one completed; latency is then service time, and says so.

Ramps: --stage DURATION:TARGET, repeated, moves linearly from the previous
target (--rate or --concurrency, else 0) to TARGET: "30s:500/s" in the open
model, "30s:50" (users) in the closed one.

Thresholds (exit 1 when one fails): [NAME:]METRIC OP VALUE [over WINDOW],
e.g. 'p99<250ms', 'error_rate<1%', 'checkout:p99.9<1s', 'p99<250ms over 10s'.
Metrics:
` + indent(loadgen.MetricNames, "  "),
		Example: `  faultline load http://127.0.0.1:8080/ --rate 2000/s --duration 30s
  faultline load http://127.0.0.1:8080/ --stage 30s:500/s --stage 60s:500/s --stage 10s:0/s
  faultline load http://127.0.0.1:8080/ --concurrency 50 --duration 1m
  faultline load --targets targets.txt --rate 1000/s --duration 1m --threshold 'p99<250ms' --out results.json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLoad(cmd, e, f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.rate, "rate", "", "open model: constant arrival rate with its unit, e.g. 2000/s")
	fl.StringVar(&f.duration, "duration", "", "how long to send (with --rate or --concurrency), e.g. 30s")
	fl.StringArrayVar(&f.stages, "stage", nil, "ramp stage DURATION:TARGET (repeatable): 30s:500/s (open) or 30s:50 (closed)")
	fl.BoolVar(&f.poisson, "poisson", false, "open model: Poisson arrivals (exponential gaps) instead of evenly spaced")
	fl.Uint64Var(&f.seed, "seed", 1, "seed for --poisson arrivals")
	fl.IntVar(&f.maxInFlight, "max-in-flight", loadgen.DefaultMaxInFlight, "open model: requests waiting or in flight beyond which new ones are dropped")
	fl.IntVar(&f.connections, "connections", loadgen.DefaultConnections, "open model: connections to keep (HTTP/1.1: requests on the wire at once)")
	fl.IntVar(&f.concurrency, "concurrency", 0, "closed model: number of virtual users, each with its own connection")
	fl.StringVar(&f.thinkTime, "think-time", "", "closed model: pause after each response, e.g. 100ms")
	fl.StringVar(&f.method, "method", "GET", "HTTP method for URL")
	fl.StringArrayVarP(&f.headers, "header", "H", nil, "request header 'Name: value' (repeatable)")
	fl.StringVar(&f.body, "body", "", "file whose contents are the request body")
	fl.StringVar(&f.targetsFile, "targets", "", "targets file in vegeta's http format (with '# name=X weight=N' lines)")
	fl.StringVar(&f.name, "name", "", "name for URL's statistics (default \"METHOD /path\")")
	fl.BoolVar(&f.http2, "http2", false, "use HTTP/2: over TLS for https URLs, h2c (prior knowledge) for http URLs")
	fl.BoolVar(&f.insecure, "insecure", false, "do not verify the server's TLS certificate")
	fl.StringVar(&f.caFile, "cacert", "", "PEM file of CA certificates to trust")
	fl.StringVar(&f.certFile, "cert", "", "client certificate (PEM), with --key")
	fl.StringVar(&f.keyFile, "key", "", "client private key (PEM), with --cert")
	fl.DurationVar(&f.timeout, "timeout", loadgen.DefaultTimeout, "per-request timeout, connecting included")
	fl.DurationVar(&f.connectTimeout, "connect-timeout", loadgen.DefaultConnectTimeout, "timeout to establish a connection")
	fl.DurationVar(&f.grace, "grace", loadgen.DefaultGrace, "how long requests still in flight at the end may complete")
	fl.StringArrayVar(&f.thresholds, "threshold", nil, "pass/fail condition (repeatable), e.g. 'p99<250ms' or 'error_rate<1% over 10s'")
	fl.StringVar(&f.out, "out", "", "write the results file (JSON with every interval's histograms) here")
	fl.StringVar(&f.hgrm, "hgrm", "", "write the latency percentile distribution (.hgrm) here")
	fl.StringVar(&f.hgrmUnit, "hgrm-unit", "ms", "unit of --hgrm values: ns, us, ms or s")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no live progress line")
	return cmd
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// loadOptions turns the flags into engine options, naming the flag at fault.
func loadOptions(f loadFlags, args []string) (loadgen.Options, error) {
	opts := loadgen.Options{
		Poisson: f.poisson, Seed: f.seed, MaxInFlight: f.maxInFlight, Connections: f.connections,
		Timeout: f.timeout, ConnectTimeout: f.connectTimeout, Grace: f.grace, HTTP2: f.http2,
		TLS:       loadgen.TLSOptions{Insecure: f.insecure, CAFile: f.caFile, CertFile: f.certFile, KeyFile: f.keyFile},
		UserAgent: "faultline/" + version,
	}
	for _, c := range []struct {
		flag string
		v    time.Duration
	}{{"--timeout", f.timeout}, {"--connect-timeout", f.connectTimeout}, {"--grace", f.grace}} {
		if c.v <= 0 {
			return opts, usageErrorf("%s %s: must be positive", c.flag, c.v)
		}
	}
	if f.maxInFlight <= 0 {
		return opts, usageErrorf("--max-in-flight %d: must be positive", f.maxInFlight)
	}
	if f.connections <= 0 {
		return opts, usageErrorf("--connections %d: must be positive", f.connections)
	}
	if f.concurrency < 0 {
		return opts, usageErrorf("--concurrency %d: must not be negative", f.concurrency)
	}

	// The model: --rate or a rate stage means open; --concurrency or a
	// users stage means closed.
	rateStages := len(f.stages) > 0 && strings.Contains(f.stages[0], "/")
	switch {
	case f.rate != "" && f.concurrency > 0:
		return opts, usageErrorf("--rate (open model) and --concurrency (closed model) exclude each other")
	case f.rate != "" || (f.concurrency == 0 && rateStages):
		opts.Model = loadgen.Open
	case f.concurrency > 0 || len(f.stages) > 0:
		opts.Model = loadgen.Closed
	default:
		return opts, usageErrorf("give --rate (open model), --concurrency (closed model) or --stage")
	}
	if f.rate != "" {
		r, err := loadgen.ParseRate(f.rate)
		if err != nil {
			return opts, usageErrorf("--rate: %v", err)
		}
		if r <= 0 && len(f.stages) == 0 {
			return opts, usageErrorf("--rate %s: must be above zero", f.rate)
		}
		opts.Rate = r
	}
	opts.Concurrency = f.concurrency
	for _, s := range f.stages {
		st, err := loadgen.ParseStage(s, opts.Model == loadgen.Open)
		if err != nil {
			return opts, usageErrorf("--stage: %v", err)
		}
		opts.Stages = append(opts.Stages, st)
	}
	if f.duration != "" {
		d, err := time.ParseDuration(f.duration)
		if err != nil {
			return opts, usageErrorf("--duration %q: want a duration like 30s", f.duration)
		}
		if d <= 0 {
			return opts, usageErrorf("--duration %s: must be positive", f.duration)
		}
		if len(opts.Stages) > 0 {
			return opts, usageErrorf("--duration and --stage exclude each other: the stages set the length")
		}
		opts.Duration = d
	} else if len(opts.Stages) == 0 {
		return opts, usageErrorf("--duration is required (or give --stage)")
	}
	if f.thinkTime != "" {
		if opts.Model != loadgen.Closed {
			return opts, usageErrorf("--think-time belongs to the closed model (--concurrency)")
		}
		d, err := time.ParseDuration(f.thinkTime)
		if err != nil || d < 0 {
			return opts, usageErrorf("--think-time %q: want a duration like 100ms", f.thinkTime)
		}
		opts.ThinkTime = d
	}
	if opts.Model == loadgen.Closed && f.connections != loadgen.DefaultConnections {
		return opts, usageErrorf("--connections belongs to the open model: in the closed model each virtual user has its own connection")
	}

	// Targets: a URL argument or a targets file.
	switch {
	case len(args) == 1 && f.targetsFile != "":
		return opts, usageErrorf("give a URL or --targets, not both")
	case len(args) == 1:
		t, err := loadgen.NewTarget(f.method, args[0])
		if err != nil {
			return opts, usageErrorf("URL: %v", err)
		}
		for _, h := range f.headers {
			name, value, ok := strings.Cut(h, ":")
			if !ok || strings.TrimSpace(name) == "" {
				return opts, usageErrorf("--header %q: want 'Name: value'", h)
			}
			t.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
		}
		if f.body != "" {
			b, err := os.ReadFile(f.body)
			if err != nil {
				return opts, usageErrorf("--body: %v", err)
			}
			t.Body = b
		}
		t.Name = f.name
		opts.Targets = []loadgen.Target{t}
	case f.targetsFile != "":
		if len(f.headers) > 0 || f.body != "" || f.name != "" {
			return opts, usageErrorf("--header, --body and --name apply to a URL argument; put them in the targets file")
		}
		file, err := os.Open(f.targetsFile)
		if err != nil {
			return opts, usageErrorf("--targets: %v", err)
		}
		defer file.Close()
		ts, err := loadgen.ParseTargets(file, f.targetsFile)
		if err != nil {
			return opts, usageErrorf("--targets: %v", err)
		}
		opts.Targets = ts
	default:
		return opts, usageErrorf("give a URL to load, or --targets FILE")
	}
	return opts, nil
}

var hgrmUnits = map[string]float64{"ns": report.Nanoseconds, "us": report.Microseconds, "ms": report.Milliseconds, "s": report.Seconds}

func runLoad(cmd *cobra.Command, e *env, f loadFlags, args []string) error {
	opts, err := loadOptions(f, args)
	if err != nil {
		return err
	}
	var thresholds []*loadgen.Threshold
	for _, src := range f.thresholds {
		t, err := loadgen.ParseThreshold(src)
		if err != nil {
			return usageErrorf("--threshold: %v", err)
		}
		thresholds = append(thresholds, t)
	}
	scale, ok := hgrmUnits[f.hgrmUnit]
	if !ok {
		return usageErrorf("--hgrm-unit %q: want ns, us, ms or s", f.hgrmUnit)
	}
	if err := opts.Validate(); err != nil {
		return exitcode.Wrap(err, exitcode.Usage)
	}

	evaluator := loadgen.NewEvaluator(thresholds)
	var progress *loadgen.Progress
	showProgress := !f.quiet && e.stderrIsTerminal()
	var results *report.ResultsWriter
	start := time.Now()
	if f.out != "" {
		info, err := report.NewRunInfo("faultline "+version, opts.Model, start, opts.Planned(), opts.MeanRate(), describeLoad(opts))
		if err != nil {
			return err
		}
		if results, err = report.CreateResults(f.out, info); err != nil {
			return usageErrorf("--out: %v", err)
		}
	}
	opts.OnInterval = func(iv *loadgen.Stats) {
		evaluator.Observe(iv)
		if results != nil {
			results.WriteInterval(iv)
		}
		if showProgress {
			if progress == nil {
				progress = loadgen.NewProgress(e.stderr, &opts, start)
			}
			progress.Update(iv)
		}
	}
	res, err := loadgen.Run(cmd.Context(), opts)
	if progress != nil {
		progress.Done()
	}
	if err != nil {
		if results != nil {
			results.Abort()
		}
		return exitcode.Wrap(err, exitcode.Usage)
	}
	verdicts := evaluator.Results(res.Total)
	summary := report.Summarize(res, verdicts)
	if err := report.WriteSummary(e.stdout, summary); err != nil {
		return err
	}
	if results != nil {
		if err := results.Close(res.End, summary); err != nil {
			return err
		}
	}
	if f.hgrm != "" {
		if err := report.WriteFileAtomic(f.hgrm, func(w io.Writer) error {
			return report.WriteHgrm(w, res.Total.Latency(""), scale, report.DefaultTicksPerHalfDistance)
		}); err != nil {
			return fmt.Errorf("--hgrm: %w", err)
		}
	}
	switch {
	case res.Interrupted:
		return exitSilently(exitcode.Interrupted)
	case res.Total.Responses("") == 0 && res.Total.Completed("") > 0:
		return exitcode.Errorf(exitcode.Runtime, "no request got a response: the target is unreachable (%s)", errorClassesLine(res.Total))
	case !loadgen.AllHeld(verdicts):
		return exitSilently(exitcode.Failed)
	}
	return nil
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

// describeLoad is the options as stored in the results file.
func describeLoad(o loadgen.Options) map[string]any {
	targets := make([]map[string]any, len(o.Targets))
	for i, t := range o.Targets {
		targets[i] = map[string]any{"name": t.Name, "method": t.Method, "url": t.URL.String(), "weight": t.Weight}
		if targets[i]["name"] == "" {
			targets[i]["name"] = t.DefaultName()
		}
	}
	stages := make([]map[string]any, len(o.Stages))
	for i, s := range o.Stages {
		stages[i] = map[string]any{"duration": s.Duration.String(), "target": s.Target}
	}
	return map[string]any{
		"model": o.Model, "rate": o.Rate, "stages": stages, "duration": o.Duration.String(),
		"poisson": o.Poisson, "connections": o.Connections, "max_in_flight": o.MaxInFlight,
		"concurrency": o.Concurrency, "think_time": o.ThinkTime.String(), "timeout": o.Timeout.String(),
		"http2": o.HTTP2, "targets": targets,
	}
}
