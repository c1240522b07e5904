package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/experiments"
	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report"

	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/internal/metric"
)

func init() { register("load", newLoadCmd) }

type loadFlags struct {
	rate, duration, thinkTime             string
	stages, headers, thresholds           []string
	poisson, http2, insecure, quiet       bool
	seed                                  uint64
	maxInFlight, connections, concurrency int
	method, body, targetsFile, name       string
	segment                               string
	timeout, connectTimeout, grace        time.Duration
	caFile, certFile, keyFile, out, hgrm  string
	hgrmUnit, engine                      string
	live                                  liveFlags
	gens                                  generatorFlags
}

// loadHelp is the long help of load, out of newLoadCmd so that it stays short.
var loadHelp = `Drive HTTP load at a URL (or at the targets of a targets file) and report
latency from HdrHistograms.

Open model (--rate): requests arrive on a schedule whatever the server does,
and latency is measured from each request's intended start, so a stalled
server shows in the tail. Requests wait for a free connection (the wait
counts); beyond --max-in-flight they are dropped and counted.

Closed model (--concurrency): each virtual user sends its next request when
the previous one completed; latency is then service time, and says so.

Ramps: --stage DURATION:TARGET, repeated, moves linearly from the previous
target (--rate or --concurrency, else 0) to TARGET: "30s:500/s" in the open
model, "30s:50" (users) in the closed one. Every stage's target carries its
unit, and they must agree with each other and with --rate or --concurrency.

Rates go up to ` + loadgen.FormatRate(loadgen.MaxRate) + ` per generator (what one schedules). For more, run N
generators at once, each with its own --segment I/N (I from 0): together
they send the one schedule, each request at its own intended time.
--generators N does that in one run, merging the generators' intervals
before the thresholds see them: worker processes on this machine, running
workers (--workers), or with --on kubernetes an Indexed Job of N worker pods,
recorded in the ledger and deleted at the end (docs/distributed.md).
The run stops sending at most 1s after its schedule ends whatever the rate
(requests still due then are counted as dropped); requests in flight then
get --grace to complete.

Thresholds (exit 1 when one fails): [NAME:]METRIC OP VALUE [over WINDOW],
e.g. 'p99<250ms', 'error_rate<1%', 'checkout:p99.9<1s', 'p99<250ms over 10s'.
Metrics:
` + indent(metric.Names, "  ") + `

` + liveHelp

func newLoadCmd(e *env) *cobra.Command {
	var f loadFlags
	cmd := &cobra.Command{
		Use:   "load [URL]",
		Short: "Drive HTTP load at a URL and report HDR latency",
		Long:  loadHelp,
		Example: `  faultline load http://127.0.0.1:8080/ --rate 2000/s --duration 30s
  faultline load http://127.0.0.1:8080/ --stage 30s:500/s --stage 60s:500/s --stage 10s:0/s
  faultline load http://127.0.0.1:8080/ --concurrency 50 --duration 1m
  faultline load http://10.0.0.5:8080/ --rate 2M/s --duration 1m --segment 0/4 --out g0.json
  faultline load --targets targets.txt --rate 1000/s --duration 1m --threshold 'p99<250ms' --out results.json
  faultline load http://127.0.0.1:8080/ --rate 1000/s --duration 1h --metrics-addr 127.0.0.1:9464`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tuneGCForLoad(e)
			return runLoad(cmd, e, f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.rate, "rate", "", "open model: constant arrival rate with its unit, e.g. 2000/s")
	fl.StringVar(&f.duration, "duration", "", "how long to send (with --rate or --concurrency), e.g. 30s")
	fl.StringArrayVar(&f.stages, "stage", nil, "ramp stage DURATION:TARGET (repeatable): 30s:500/s (open) or 30s:50 (closed)")
	fl.BoolVar(&f.poisson, "poisson", false, "open model: Poisson arrivals (exponential gaps) instead of evenly spaced")
	fl.Uint64Var(&f.seed, "seed", 1, "seed for --poisson arrivals")
	fl.StringVar(&f.segment, "segment", "", "send only share I/N (I from 0) of the schedule, for N generators together")
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
	f.live.add(fl)
	f.gens.add(fl, true)
	fl.StringVar(&f.engine, "engine", string(loadgen.EngineAuto), "how requests are sent: auto (epoll where it serves), epoll (Linux event loops; plain http:// over HTTP/1.1 only) or goroutine (a goroutine per connection; TLS, HTTP/2, every platform)")
	return cmd
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// loadSpec turns the flags into the load's spec, naming the flag at fault.
func loadSpec(f loadFlags, args []string) (loadgen.Spec, error) {
	spec := loadgen.Spec{
		Tool: "faultline " + version, MaxInFlight: f.maxInFlight, Connections: f.connections,
		Timeout: f.timeout, ConnectTimeout: f.connectTimeout, Grace: f.grace, HTTP2: f.http2,
		TLS:    loadgen.TLSOptions{Insecure: f.insecure, CAFile: f.caFile, CertFile: f.certFile, KeyFile: f.keyFile},
		Engine: loadgen.Engine(f.engine),
	}
	for _, c := range []struct {
		flag string
		v    time.Duration
	}{{"--timeout", f.timeout}, {"--connect-timeout", f.connectTimeout}, {"--grace", f.grace}} {
		if c.v <= 0 {
			return spec, usageErrorf("%s %s: must be positive", c.flag, c.v)
		}
	}
	if f.maxInFlight <= 0 {
		return spec, usageErrorf("--max-in-flight %d: must be positive", f.maxInFlight)
	}
	if f.connections <= 0 {
		return spec, usageErrorf("--connections %d: must be positive", f.connections)
	}
	if f.concurrency < 0 {
		return spec, usageErrorf("--concurrency %d: must not be negative", f.concurrency)
	}

	var err error
	if spec.Shape, err = loadShape(f); err != nil {
		return spec, err
	}
	if f.segment != "" {
		if spec.Segment, err = loadgen.ParseSegment(f.segment); err != nil {
			return spec, usageErrorf("--segment: %v", err)
		}
	}
	if f.thinkTime != "" {
		if spec.Shape.Model != loadgen.Closed {
			return spec, usageErrorf("--think-time belongs to the closed model (--concurrency)")
		}
		d, err := time.ParseDuration(f.thinkTime)
		if err != nil || d < 0 {
			return spec, usageErrorf("--think-time %q: want a duration like 100ms", f.thinkTime)
		}
		spec.ThinkTime = d
	}
	if spec.Shape.Model == loadgen.Closed && f.connections != loadgen.DefaultConnections {
		return spec, usageErrorf("--connections belongs to the open model: in the closed model each virtual user has its own connection")
	}

	spec.Targets, err = loadTargets(f, args)
	return spec, err
}

// loadTargets reads the targets: a URL argument with its request flags, or
// a targets file.
func loadTargets(f loadFlags, args []string) ([]loadgen.Target, error) {
	switch {
	case len(args) == 1 && f.targetsFile != "":
		return nil, usageErrorf("give a URL or --targets, not both")
	case len(args) == 1:
		t, err := loadgen.NewTarget(f.method, args[0])
		if err != nil {
			return nil, usageErrorf("URL: %v", err)
		}
		for _, h := range f.headers {
			name, value, ok := strings.Cut(h, ":")
			if !ok || strings.TrimSpace(name) == "" {
				return nil, usageErrorf("--header %q: want 'Name: value'", h)
			}
			t.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
		}
		if f.body != "" {
			b, err := os.ReadFile(f.body)
			if err != nil {
				return nil, usageErrorf("--body: %v", err)
			}
			t.Body = b
		}
		t.Name = f.name
		return []loadgen.Target{t}, nil
	case f.targetsFile != "":
		if len(f.headers) > 0 || f.body != "" || f.name != "" {
			return nil, usageErrorf("--header, --body and --name apply to a URL argument; put them in the targets file")
		}
		file, err := os.Open(f.targetsFile)
		if err != nil {
			return nil, usageErrorf("--targets: %v", err)
		}
		defer file.Close()
		ts, err := loadgen.ParseTargets(file, f.targetsFile)
		if err != nil {
			return nil, usageErrorf("--targets: %v", err)
		}
		return ts, nil
	default:
		return nil, usageErrorf("give a URL to load, or --targets FILE")
	}
}

// loadShape reads the load's shape from the flags. The model is what they
// say: --rate is open, --concurrency closed, and stages alone are read by
// their targets' units (rates or users), every stage agreeing.
func loadShape(f loadFlags) (loadgen.Shape, error) {
	shape := loadgen.Shape{Poisson: f.poisson, Seed: f.seed, Concurrency: f.concurrency}
	var stageModel loadgen.Model
	if len(f.stages) > 0 {
		var err error
		if stageModel, shape.Stages, err = loadgen.ParseStages(f.stages); err != nil {
			return shape, usageErrorf("--stage: %v", err)
		}
	}
	switch {
	case f.rate != "" && f.concurrency > 0:
		return shape, usageErrorf("--rate (open model) and --concurrency (closed model) exclude each other")
	case f.rate != "":
		shape.Model = loadgen.Open
	case f.concurrency > 0:
		shape.Model = loadgen.Closed
	case stageModel != "":
		shape.Model = stageModel
	default:
		return shape, usageErrorf("give --rate (open model), --concurrency (closed model) or --stage")
	}
	if stageModel != "" && stageModel != shape.Model {
		return shape, usageErrorf("--stage %s targets %s, but this load is %s-model: stage targets are rates (30s:500/s) with --rate, users (30s:50) with --concurrency", f.stages[0], map[loadgen.Model]string{loadgen.Open: "a rate", loadgen.Closed: "users"}[stageModel], shape.Model)
	}
	if f.rate != "" {
		r, err := loadgen.ParseRate(f.rate)
		if err != nil {
			return shape, usageErrorf("--rate: %v", err)
		}
		if r <= 0 && len(f.stages) == 0 {
			return shape, usageErrorf("--rate %s: must be above zero", f.rate)
		}
		shape.Rate = r
	}
	if f.poisson && shape.Model == loadgen.Closed {
		return shape, usageErrorf("--poisson belongs to the open model (--rate)")
	}
	if f.duration != "" {
		d, err := time.ParseDuration(f.duration)
		if err != nil {
			return shape, usageErrorf("--duration %q: want a duration like 30s", f.duration)
		}
		if d <= 0 {
			return shape, usageErrorf("--duration %s: must be positive", f.duration)
		}
		if len(shape.Stages) > 0 {
			return shape, usageErrorf("--duration and --stage exclude each other: the stages set the length")
		}
		shape.Duration = d
	} else if len(shape.Stages) == 0 {
		return shape, usageErrorf("--duration is required (or give --stage)")
	}
	return shape, nil
}

var hgrmUnits = map[string]float64{"ns": report.Nanoseconds, "us": report.Microseconds, "ms": report.Milliseconds, "s": report.Seconds}

func runLoad(cmd *cobra.Command, e *env, f loadFlags, args []string) error {
	spec, err := loadSpec(f, args)
	if err != nil {
		return err
	}
	lr := experiments.LoadRun{Spec: spec, ResultsPath: f.out, HgrmPath: f.hgrm, Summary: e.stdout}
	for _, src := range f.thresholds {
		t, err := loadgen.ParseThreshold(src)
		if err != nil {
			return usageErrorf("--threshold: %v", err)
		}
		lr.Thresholds = append(lr.Thresholds, t)
	}
	var ok bool
	if lr.HgrmScale, ok = hgrmUnits[f.hgrmUnit]; !ok {
		return usageErrorf("--hgrm-unit %q: want ns, us, ms or s", f.hgrmUnit)
	}
	if !f.quiet && e.stderrIsTerminal() {
		lr.Progress = e.stderr
	}
	var length time.Duration
	if sched, err := spec.Shape.Schedule(); err == nil {
		length = sched.Duration()
	}
	gens, stop, err := f.gens.config(cmd.Context(), e, f.segment, length)
	if err != nil {
		return err
	}
	lr.Generators = gens
	l, err := f.live.start(e)
	if err != nil {
		return errors.Join(err, stop())
	}
	lr.Live = sink(l)
	code, err := experiments.RunLoad(cmd.Context(), lr)
	stopLive(e, l)
	if serr := stop(); serr != nil {
		// Workers left running outweigh the verdict, as an unreverted
		// fault does.
		return exitcode.WrapIfNone(fmt.Errorf("stop the generators: %w", serr), exitcode.RevertFailed)
	}
	if err != nil {
		return err
	}
	return exitSilently(code)
}
