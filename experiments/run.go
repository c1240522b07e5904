package experiments

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report"
	"github.com/faultline-dev/faultline/targets"
)

// RunOptions configure a run.
type RunOptions struct {
	// Log receives the run's events as they happen (faults injected and
	// reverted, probes, aborts) and the live progress line.
	Log io.Writer
	// Progress draws the live progress line on Log (a terminal).
	Progress bool
	// LedgerPath is the fault ledger (default chaos.DefaultLedgerPath(Getenv)).
	LedgerPath string
	// Dir overrides the report directory of the experiment file.
	Dir string
	// Getenv resolves ${env.VAR} (default os.Getenv).
	Getenv func(string) string
	// Tool names faultline and its version in the journal.
	Tool string
	// InconclusiveOK lets inconclusive verdicts pass the gate; by default a
	// hypothesis the data cannot confirm fails it.
	InconclusiveOK bool
	// DockerImage overrides targets.image for Docker mode.
	DockerImage string
}

// Outcome is how a run ended.
type Outcome struct {
	Code    exitcode.Code
	Message string
	Dir     string
	Journal string
	Checks  []report.JournalCheck
	Faults  []report.JournalFault
	Plan    *Plan
	Start   time.Time // start of the load
	End     time.Time
	// Total is the load over the whole run.
	Total *loadgen.Stats
	// Thresholds are the load's thresholds' verdicts.
	Thresholds []loadgen.ThresholdResult
	Reports    []string
	// Phases are the load's figures per phase.
	Phases []PhaseSummary
}

// Outcomes, as printed and journaled.
const (
	outcomeCompleted   = "completed"
	outcomeSteadyState = "steady state did not hold"
	outcomeAborted     = "aborted"
	outcomeInterrupted = "interrupted"
	outcomeRuntime     = "runtime error"
)

// runState is one run: the runner goroutine owns all of it.
type runState struct {
	plan    *Plan
	opts    RunOptions
	out     *Outcome
	journal *report.JournalWriter
	rng     *rand.Rand

	shop      *targets.Shop
	docker    *targets.DockerShop
	runID     string
	toxi      *chaos.Toxiproxy
	env       *chaos.Env
	ledger    *chaos.Ledger
	session   *chaos.Session
	proxyAddr map[string]string
	proxies   []*chaos.Entry

	loadStart  time.Time
	samples    map[string][]*sample
	recent     []*sample // for abort windows
	active     map[*PlannedFault]*chaos.Entry
	lastRevert time.Duration
	reverted   bool
	evaluator  *loadgen.Evaluator
	outcome    string
	lineDrawn  bool
}

// Run carries out the plan: it starts the targets and Toxiproxy, creates the
// proxies, runs one load through every phase, checks the steady state
// before the first fault, injects and reverts faults on the timeline,
// watches the abort conditions, judges the hypotheses, runs the rollbacks
// and writes the journal. Whatever happens (success, a deviation, an
// abort, ctx cancelled, a panic), every fault injected is reverted.
func Run(ctx context.Context, plan *Plan, opts RunOptions) (out *Outcome, err error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.LedgerPath == "" {
		if opts.LedgerPath, err = chaos.DefaultLedgerPath(opts.Getenv); err != nil {
			return nil, exitcode.Wrap(err, exitcode.Usage)
		}
	}
	r := &runState{
		plan: plan, opts: opts, out: &Outcome{Plan: plan},
		rng:     rand.New(rand.NewPCG(plan.Exp.Seed, plan.Exp.Seed^0x5eed)),
		samples: map[string][]*sample{}, active: map[*PlannedFault]*chaos.Entry{},
		proxyAddr: map[string]string{}, lastRevert: -1,
		evaluator: loadgen.NewEvaluator(plan.Thresholds), outcome: outcomeCompleted,
	}
	r.runID = fmt.Sprintf("fl%08x", r.rng.Uint32()^uint32(time.Now().UnixNano()))
	if err := r.openJournal(); err != nil {
		return nil, exitcode.Wrap(err, exitcode.Runtime)
	}
	defer func() {
		// A panic still reverts every fault and closes what was started,
		// then goes on up.
		if p := recover(); p != nil {
			r.note("panic: %v: reverting every fault", p)
			r.revertAll()
			r.teardown()
			panic(p)
		}
	}()
	r.execute(ctx)
	r.teardown()
	r.finish()
	r.writeReports()
	return r.out, nil
}

func (r *runState) openJournal() error {
	dir := r.opts.Dir
	if dir == "" {
		dir = r.plan.Exp.Report.Dir
	}
	if dir == "" {
		dir = filepath.Join("faultline-out", safeName(r.plan.Exp.Name)+"-"+time.Now().UTC().Format("20060102-150405"))
	} else if !filepath.IsAbs(dir) && r.plan.Exp.Report.Dir == dir {
		dir = filepath.Join(r.plan.dir, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report directory: %w", err)
	}
	j, err := report.CreateJournal(filepath.Join(dir, "journal.jsonl"))
	if err != nil {
		return err
	}
	r.journal, r.out.Dir, r.out.Journal = j, dir, j.Path()
	return nil
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == '\\' || r == ':' {
			return '-'
		}
		return r
	}, s)
}

// logf prints an event line, clearing the progress line first.
func (r *runState) logf(format string, args ...any) {
	if r.lineDrawn {
		fmt.Fprint(r.opts.Log, "\r\033[K")
		r.lineDrawn = false
	}
	offset := ""
	if !r.loadStart.IsZero() {
		offset = fmt.Sprintf("%7.1fs  ", time.Since(r.loadStart).Seconds())
	}
	fmt.Fprintf(r.opts.Log, "%s%s\n", offset, fmt.Sprintf(format, args...))
}

func (r *runState) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.logf("%s", msg)
	r.journalWrite(report.JournalRecord{Type: "note", Message: msg})
}

func (r *runState) journalWrite(rec report.JournalRecord) {
	if err := r.journal.Write(rec); err != nil {
		fmt.Fprintf(r.opts.Log, "faultline: journal: %v\n", err)
	}
}

// fail records a runtime failure (exit 5) unless a worse outcome stands.
func (r *runState) fail(code exitcode.Code, outcome, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if r.out.Code == 0 || r.out.Code == exitcode.Failed {
		r.out.Code, r.outcome, r.out.Message = code, outcome, msg
	}
	r.logf("%s", msg)
}

// resolve expands ${targets.X}, ${proxies.X}, ${env.X} and their .addr
// forms; validation has already checked the names.
func (r *runState) resolve(s string) string {
	return refPattern.ReplaceAllStringFunc(s, func(m string) string {
		parts := strings.Split(m[2:len(m)-1], ".")
		addrOnly := len(parts) == 3
		var addr string
		switch parts[0] {
		case "env":
			return r.opts.Getenv(parts[1])
		case "run":
			return r.runID
		case "targets":
			if base, ok := r.plan.Exp.Targets.External[parts[1]]; ok {
				if addrOnly {
					if u, err := url.Parse(base); err == nil {
						return u.Host
					}
				}
				return strings.TrimSuffix(base, "/")
			}
			switch {
			case r.shop != nil:
				addr = r.shop.Addr(parts[1])
			case r.docker != nil:
				addr = r.docker.Addr(parts[1])
			}
		case "proxies":
			addr = r.proxyAddr[parts[1]]
		}
		if addrOnly {
			return addr
		}
		return "http://" + addr
	})
}

// hostPort turns a URL or host:port into host:port.
func hostPort(s string) string {
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		return u.Host
	}
	return s
}

// setUp starts what the experiment needs: the shop, Toxiproxy, the ledger
// and its session, and the proxies.
func (r *runState) setUp(ctx context.Context) error {
	exp := r.plan.Exp
	if exp.Targets.Docker {
		image := r.opts.DockerImage
		if image == "" {
			image = exp.Targets.Image
		}
		r.logf("starting the shop in Docker (run %s)", r.runID)
		shop, err := targets.StartDocker(ctx, exp.Targets.Config, targets.DockerOptions{
			Only: exp.Targets.Only, Image: image, RunID: r.runID,
			Labels: map[string]string{"faultline.experiment": safeName(exp.Name)},
		})
		if err != nil {
			return fmt.Errorf("start the bundled shop in Docker: %w", err)
		}
		r.docker = shop
		for _, row := range shop.Table() {
			r.logf("target %-8s %s", row[0], row[2])
		}
	} else if exp.Targets.Shop {
		shop, err := targets.Start(ctx, exp.Targets.Config, targets.StartOptions{Only: exp.Targets.Only})
		if err != nil {
			return fmt.Errorf("start the bundled shop: %w", err)
		}
		r.shop = shop
		for _, row := range shop.Table() {
			r.logf("target %-8s %s", row[0], row[2])
		}
	}
	env := &chaos.Env{Seed: exp.Seed, Services: map[string]chaos.Crashable{}}
	if r.shop != nil {
		for _, name := range r.shop.Names() {
			env.Services[name] = r.shop.Service(name)
		}
	}
	needToxi := len(exp.Proxies) > 0
	for _, f := range r.plan.Faults {
		if f.Spec.Proxy != "" {
			needToxi = true
		}
	}
	if needToxi {
		if exp.Toxiproxy.URL != "" {
			if _, err := chaos.ConnectToxiproxy(ctx, exp.Toxiproxy.URL); err != nil {
				return err
			}
			env.ToxiproxyURL = exp.Toxiproxy.URL
			r.logf("toxiproxy external %s", exp.Toxiproxy.URL)
		} else {
			t, err := chaos.StartToxiproxy(ctx)
			if err != nil {
				return fmt.Errorf("start the embedded Toxiproxy: %w", err)
			}
			r.toxi = t
			env.ToxiproxyURL, env.ToxiproxyEmbedded = t.URL(), true
			r.logf("toxiproxy embedded %s", t.URL())
		}
	}
	r.env = env
	ledger, err := chaos.OpenLedger(r.opts.LedgerPath)
	if err != nil {
		return err
	}
	r.ledger = ledger
	r.session = chaos.NewSession(ledger, env)
	// Faults may name what only exists now: ${run.id}, ${targets.X}, ...
	for _, f := range r.plan.Faults {
		spec := f.Spec
		spec.Labels = maps.Clone(spec.Labels)
		spec.Names = slices.Clone(spec.Names)
		resolveStrings(reflect.ValueOf(&spec).Elem(), r.resolve)
		fault, err := chaos.New(spec)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Label(), err)
		}
		f.Spec, f.Fault = spec, fault
	}
	for _, p := range exp.Proxies {
		upstream := r.resolve(p.Upstream)
		if upstream == "" && p.Link != "" {
			l, _ := targets.ParseLink(p.Link)
			upstream = r.shop.Addr(l.To)
		}
		listen := p.Listen
		if listen == "" {
			listen = "127.0.0.1:0"
		}
		f, err := chaos.NewProxy(p.Name, r.resolve(listen), hostPort(upstream))
		if err != nil {
			return err
		}
		entry, err := r.session.Inject(ctx, f)
		if err != nil {
			return fmt.Errorf("create proxy %s: %w", p.Name, err)
		}
		r.proxies = append(r.proxies, entry)
		addr, _ := chaos.ProxyListen(entry)
		r.proxyAddr[p.Name] = addr
		if p.Link != "" {
			if err := r.shop.SetUpstream(p.Link, addr); err != nil {
				return fmt.Errorf("route %s through proxy %s: %w", p.Link, p.Name, err)
			}
			r.logf("proxy  %-8s %s -> %s (link %s)", p.Name, addr, upstream, p.Link)
		} else {
			r.logf("proxy  %-8s %s -> %s", p.Name, addr, upstream)
		}
	}
	return nil
}

// loadOptions builds the one load that runs through every phase: each
// phase is a step of the schedule (its own rate or number of users).
func (r *runState) loadOptions() (loadgen.Options, error) {
	l := r.plan.Exp.Load
	o := loadgen.Options{
		Model: r.plan.Model, Poisson: l.Poisson, Seed: r.plan.Exp.Seed,
		Connections: l.Connections, MaxInFlight: l.MaxInFlight, ThinkTime: l.ThinkTime,
		Timeout: l.Timeout, ConnectTimeout: l.ConnectTimeout, HTTP2: l.HTTP2,
		TLS: loadgen.TLSOptions{Insecure: l.Insecure}, UserAgent: "faultline",
		// Intervals shrink with the time scale, so a scaled-down run keeps
		// as many intervals per phase for its statistics.
		Interval: max(100*time.Millisecond, time.Duration(float64(time.Second)*r.plan.TimeScale)),
	}
	for _, p := range r.plan.Phases {
		st := loadgen.Stage{Duration: p.End - p.Start, Step: true, Target: p.Rate}
		if r.plan.Model == loadgen.Closed {
			st.Target = float64(p.Concurrency)
		}
		o.Stages = append(o.Stages, st)
	}
	if r.plan.Model == loadgen.Open {
		o.Rate = r.plan.Phases[0].Rate
	} else {
		o.Concurrency = r.plan.Phases[0].Concurrency
	}
	for _, rs := range l.Requests {
		t, err := loadgen.NewTarget(orDefault(rs.Method, http.MethodGet), r.resolve(rs.URL))
		if err != nil {
			return o, fmt.Errorf("request %s: %w", rs.Name, err)
		}
		t.Name, t.Weight = rs.Name, max(rs.Weight, 1)
		for k, v := range rs.Headers {
			t.Header.Set(k, r.resolve(v))
		}
		switch {
		case rs.BodyFile != "":
			b, err := os.ReadFile(r.plan.resolvePath(rs.BodyFile))
			if err != nil {
				return o, fmt.Errorf("request %s: %w", rs.Name, err)
			}
			t.Body = b
		case rs.Body != "":
			t.Body = []byte(r.resolve(rs.Body))
		}
		o.Targets = append(o.Targets, t)
	}
	return o, nil
}

// phaseAt is the phase an offset falls in (the last one past the end).
func (r *runState) phaseAt(offset time.Duration) *Phase {
	for _, p := range r.plan.Phases {
		if offset < p.End {
			return p
		}
	}
	return r.plan.Phases[len(r.plan.Phases)-1]
}

// event is one point of the fault timeline.
type event struct {
	at    time.Duration
	kind  int // evRevert, evSteady, evInject: their order at one instant
	fault *PlannedFault
}

const (
	evRevert = iota // reverts first, so back-to-back faults do not overlap
	evSteady
	evInject
)

func (r *runState) timeline() []event {
	var evs []event
	for _, f := range r.plan.Faults {
		evs = append(evs, event{at: f.Start, kind: evInject, fault: f}, event{at: f.End, kind: evRevert, fault: f})
	}
	if at, ok := r.plan.SteadyStateAt(); ok {
		evs = append(evs, event{at: at, kind: evSteady})
	}
	sortEvents(evs)
	return evs
}

// sortEvents orders the timeline by time, and at one instant reverts
// before the steady-state check before injections.
func sortEvents(evs []event) {
	slices.SortStableFunc(evs, func(a, b event) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.kind, b.kind)
	})
}

// execute runs the experiment up to the end of the load.
func (r *runState) execute(ctx context.Context) {
	if err := r.setUp(ctx); err != nil {
		r.fail(codeOf(err, exitcode.Runtime), outcomeRuntime, "faultline: %v", err)
		r.writeStart(time.Now(), nil)
		return
	}
	opts, err := r.loadOptions()
	if err != nil {
		r.fail(exitcode.Runtime, outcomeRuntime, "faultline: %v", err)
		r.writeStart(time.Now(), nil)
		return
	}

	loadCtx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	intervals := make(chan *loadgen.Stats, 4096)
	started := make(chan time.Time, 1)
	type loadResult struct {
		res *loadgen.Result
		err error
	}
	done := make(chan loadResult, 1)
	opts.OnStart = func(t time.Time) { started <- t }
	opts.OnInterval = func(iv *loadgen.Stats) { intervals <- iv }
	go func() {
		res, err := loadgen.Run(loadCtx, opts)
		done <- loadResult{res, err}
	}()
	var result loadResult
	select {
	case r.loadStart = <-started:
	case result = <-done:
		r.fail(exitcode.Runtime, outcomeRuntime, "faultline: load: %v", result.err)
		r.writeStart(time.Now(), &opts)
		return
	}
	r.out.Start = r.loadStart
	r.writeStart(r.loadStart, &opts)

	evs := r.timeline()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stopLoad()
		}
	}
	for running := true; running; {
		timer.Stop()
		var timerC <-chan time.Time
		if len(evs) > 0 && !stopped {
			timer.Reset(time.Until(r.loadStart.Add(evs[0].at)))
			timerC = timer.C
		}
		select {
		case iv := <-intervals:
			if r.handleInterval(iv) && !stopped {
				r.abort()
				stop()
			}
		case <-timerC:
			ev := evs[0]
			evs = evs[1:]
			if !r.handleEvent(ctx, ev) {
				stop()
			}
		case <-ctx.Done():
			if !stopped {
				// A failed revert (exit 6) stays the outcome: it matters more.
				if r.out.Code != exitcode.RevertFailed {
					r.out.Code, r.outcome, r.out.Message = exitcode.Interrupted, outcomeInterrupted, "interrupted: reverting every fault"
				}
				r.logf("interrupted: reverting every fault and stopping")
				r.revertAll()
				stop()
			}
		case result = <-done:
			running = false
		}
	}
	for drained := false; !drained; {
		select {
		case iv := <-intervals:
			r.handleInterval(iv)
		default:
			drained = true
		}
	}
	if result.err != nil {
		r.fail(exitcode.Runtime, outcomeRuntime, "faultline: load: %v", result.err)
	}
	r.revertAll()
	if result.res != nil {
		r.out.Total = result.res.Total
		r.out.End = result.res.End
	}
	if r.out.Code == 0 && r.out.Total != nil && r.out.Total.Completed("") > 0 && r.out.Total.Responses("") == 0 {
		r.fail(exitcode.Runtime, outcomeRuntime, "faultline: no request of the load got a response: the targets are unreachable")
	}
	if r.out.Code != 0 && r.out.Code != exitcode.Aborted {
		return
	}
	r.judge(ctx)
}

func codeOf(err error, def exitcode.Code) exitcode.Code {
	if c := exitcode.Of(err); c != exitcode.Runtime {
		return c
	}
	return def
}

func (r *runState) writeStart(loadStart time.Time, opts *loadgen.Options) {
	jp := &report.JournalPlan{
		Name: r.plan.Exp.Name, Description: r.plan.Exp.Description, Tags: r.plan.Exp.Tags,
		File: r.plan.File, Tool: r.opts.Tool, Model: r.plan.Model, Seed: r.plan.Exp.Seed,
		TimeScale: r.plan.TimeScale, LoadStart: loadStart.UTC(),
		Histograms: report.HistogramInfo{Unit: "ns", Lowest: loadgen.HistLowest, Highest: loadgen.HistHighest,
			SignificantDigits: loadgen.HistSigFigs, Encoding: "HdrHistogram V2 compressed (zlib), base64"},
	}
	for _, p := range r.plan.Phases {
		jp.Phases = append(jp.Phases, report.JournalPhase{Name: p.Name, StartMs: ms(p.Start), EndMs: ms(p.End), Rate: max(p.Rate, 0), Users: max(p.Concurrency, 0)})
	}
	for _, f := range r.plan.Faults {
		jp.Faults = append(jp.Faults, report.JournalFaultPlan{Label: f.Label(), Kind: f.Spec.Kind, Phase: f.Phase,
			Describe: describeFault(f), StartMs: ms(f.Start), EndMs: ms(f.End)})
	}
	r.journalWrite(report.JournalRecord{Type: "start", Plan: jp})
}

func describeFault(f *PlannedFault) string {
	if f.Fault == nil {
		return f.Spec.Kind
	}
	return f.Fault.Describe()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// offsetMs is now, in milliseconds after the start of the load.
func (r *runState) offsetMs() float64 {
	if r.loadStart.IsZero() {
		return 0
	}
	return ms(time.Since(r.loadStart))
}

// handleInterval files one interval under its phase and reports whether an
// abort condition failed.
func (r *runState) handleInterval(iv *loadgen.Stats) bool {
	mid := iv.Start.Add(iv.Duration() / 2).Sub(r.loadStart)
	phase := r.phaseAt(mid)
	target := phase.Rate
	if r.plan.Model == loadgen.Closed {
		target = 0
	}
	s := sampleOf(iv, target)
	r.samples[phase.Name] = append(r.samples[phase.Name], s)
	if err := r.journal.WriteInterval(phase.Name, iv); err != nil {
		fmt.Fprintf(r.opts.Log, "faultline: journal: %v\n", err)
	}
	r.evaluator.Observe(iv)
	r.progress(phase, iv)
	// Abort conditions judge the most recent window of intervals.
	r.recent = append(r.recent, s)
	var longest time.Duration
	for _, c := range r.plan.Abort {
		longest = max(longest, c.Window)
	}
	for len(r.recent) > 1 && iv.End.Sub(r.recent[0].start) > longest+time.Second {
		r.recent = r.recent[1:]
	}
	for _, c := range r.plan.Abort {
		var window []*sample
		for _, x := range r.recent {
			if iv.End.Sub(x.start) <= c.Window+c.Window/10 {
				window = append(window, x)
			}
		}
		if len(window) == 0 || iv.End.Sub(window[0].start) < c.Window-c.Window/10 {
			continue // not a whole window yet
		}
		sc := &scope{current: window, phases: r.phaseSamples(), timeToRecover: math.NaN()}
		pick := sc.samplesOf
		left, right := eval(c.Left, sc, pick), eval(c.Right, sc, pick)
		if math.IsNaN(left) || math.IsNaN(right) || holds(c.Op, left, right) {
			continue
		}
		check := report.JournalCheck{Kind: "abort", Phase: phase.Name, Expression: c.Source, Verdict: string(Deviated),
			Measured: formatDim(left, c.Left.dim()),
			Detail:   fmt.Sprintf("%s = %s over the last %s, %s %s", c.Left, formatDim(left, c.Left.dim()), c.Window, opWord(c.Op, false), formatDim(right, c.Right.dim()))}
		r.addCheck(check)
		r.fail(exitcode.Aborted, outcomeAborted, "abort: %s (%s): reverting every fault and stopping", c.Source, check.Detail)
		return true
	}
	return false
}

func (r *runState) progress(phase *Phase, iv *loadgen.Stats) {
	if !r.opts.Progress {
		return
	}
	var faults []string
	for f := range r.active {
		faults = append(faults, f.Spec.Kind)
	}
	lat := iv.Latency("")
	line := fmt.Sprintf("[%s] %s/%s  %.0f/s  p99 %s  errors %d  faults: %s",
		phase.Name, iv.End.Sub(r.loadStart).Round(time.Second), r.plan.Total.Round(time.Second),
		iv.Rate(""), loadgen.FormatDuration(loadgen.Percentile(lat, 99)), iv.Failed(""), orDefault(strings.Join(faults, ", "), "none"))
	fmt.Fprintf(r.opts.Log, "\r\033[K%s", line)
	r.lineDrawn = true
}

// handleEvent carries out one point of the timeline; false stops the run.
func (r *runState) handleEvent(ctx context.Context, ev event) bool {
	switch ev.kind {
	case evSteady:
		var before []*sample
		for _, p := range r.plan.Phases {
			before = append(before, r.samples[p.Name]...)
		}
		return r.checkSteadyState(ctx, "steady_state_before", before)
	case evInject:
		if r.out.Code != 0 {
			return false
		}
		entry, err := r.session.Inject(ctx, ev.fault.Fault)
		if err != nil {
			jf := report.JournalFault{Label: ev.fault.Label(), Kind: ev.fault.Spec.Kind, Event: "inject_failed", Error: err.Error(), AtMs: r.offsetMs()}
			r.journalWrite(report.JournalRecord{Type: "fault", Fault: &jf})
			r.out.Faults = append(r.out.Faults, jf)
			r.fail(codeOf(err, exitcode.Runtime), outcomeRuntime, "faultline: inject %s: %v", ev.fault.Label(), err)
			r.revertAll()
			return false
		}
		r.active[ev.fault] = entry
		jf := report.JournalFault{Label: ev.fault.Label(), Kind: ev.fault.Spec.Kind, Event: "injected", Describe: entry.Injection.Describe(), AtMs: r.offsetMs()}
		r.out.Faults = append(r.out.Faults, jf)
		r.journalWrite(report.JournalRecord{Type: "fault", Fault: &jf})
		r.logf("injected %s", entry.Injection.Describe())
	case evRevert:
		r.revert(ev.fault)
	}
	return true
}

// revert undoes one fault if it is active.
func (r *runState) revert(f *PlannedFault) {
	entry, ok := r.active[f]
	if !ok {
		return
	}
	delete(r.active, f)
	// A revert runs even when the run was cancelled.
	err := r.session.Revert(context.WithoutCancel(context.Background()), entry)
	jf := report.JournalFault{Label: f.Label(), Kind: f.Spec.Kind, Event: "reverted", Describe: entry.Injection.Describe(), AtMs: r.offsetMs()}
	if err != nil {
		jf.Event, jf.Error = "revert_failed", err.Error()
		r.out.Code, r.outcome = exitcode.RevertFailed, "a fault could not be reverted"
		r.out.Message = fmt.Sprintf("REVERT FAILED: %s: %v; it may still be in effect, the ledger %s lists it (faultline chaos cleanup)", entry.Injection.Describe(), err, r.opts.LedgerPath)
		r.logf("%s", r.out.Message)
	} else {
		r.logf("reverted %s", entry.Injection.Describe())
	}
	if !r.loadStart.IsZero() {
		r.lastRevert = time.Since(r.loadStart)
	}
	r.reverted = true
	r.out.Faults = append(r.out.Faults, jf)
	r.journalWrite(report.JournalRecord{Type: "fault", Fault: &jf})
}

// revertAll undoes every fault still active, at once.
func (r *runState) revertAll() {
	for _, f := range r.plan.Faults {
		r.revert(f)
	}
}

// abort is what an abort condition triggers: every fault reverted at once.
func (r *runState) abort() { r.revertAll() }

// checkSteadyState runs the steady-state probes; false means one failed.
func (r *runState) checkSteadyState(ctx context.Context, kind string, samples []*sample) bool {
	ok := true
	for _, p := range r.plan.SteadyState {
		res := runProbe(ctx, p, samples, r.resolve, r.rng)
		name := p.Spec.Name
		if name == "" {
			name = p.Spec.Expect
		}
		r.addCheck(report.JournalCheck{Kind: kind, Name: name, Expression: p.Spec.Expect, Verdict: string(res.Verdict), Measured: res.Measured, Detail: res.Detail})
		if res.Verdict != Held {
			ok = false
		}
		r.logf("steady state %s: %s (%s)", name, res.Verdict, res.Detail)
	}
	if !ok && kind == "steady_state_before" {
		r.fail(exitcode.SteadyState, outcomeSteadyState, "the steady state did not hold before any fault: nothing was injected")
	}
	return ok
}

func (r *runState) addCheck(c report.JournalCheck) {
	r.out.Checks = append(r.out.Checks, c)
	r.journalWrite(report.JournalRecord{Type: "check", Check: &c})
}

// phaseSamples is the intervals of every phase by name, with "baseline"
// naming the baseline phase whatever its name.
func (r *runState) phaseSamples() map[string][]*sample {
	if _, ok := r.samples["baseline"]; ok || r.plan.Baseline == "" {
		return r.samples
	}
	m := maps.Clone(r.samples)
	m["baseline"] = r.samples[r.plan.Baseline]
	return m
}

// judge checks the steady state after the last phase and every phase's
// hypotheses, and the load's thresholds.
func (r *runState) judge(ctx context.Context) {
	last := r.plan.Phases[len(r.plan.Phases)-1]
	steadyAfter := r.out.Code == 0 && r.checkSteadyState(ctx, "steady_state_after", r.samples[last.Name])
	ttr := r.timeToRecover()
	failed := !steadyAfter && r.out.Code == 0
	phases := r.phaseSamples()
	for _, p := range r.plan.Phases {
		for _, c := range p.Hypotheses {
			j := judge(c, &scope{current: r.samples[p.Name], phases: phases, timeToRecover: ttr}, r.rng)
			r.addCheck(report.JournalCheck{Kind: "hypothesis", Phase: p.Name, Expression: c.Source, Verdict: string(j.Verdict),
				Measured: j.Measured, Detail: j.Detail, CILow: j.CILow, CIHigh: j.CIHigh})
			if j.Verdict == Deviated || (j.Verdict == Inconclusive && !r.opts.InconclusiveOK) {
				failed = true
			}
		}
	}
	if r.out.Total != nil {
		r.out.Thresholds = r.evaluator.Results(r.out.Total)
		for _, t := range r.out.Thresholds {
			v := "held"
			if !t.Held {
				v, failed = "failed", true
			}
			detail := fmt.Sprintf("%s = %s", t.Threshold.Metric(), t.Threshold.Format(t.Value))
			switch {
			case t.NoData:
				detail = "no requests completed"
			case t.Threshold.Window > 0:
				detail = fmt.Sprintf("worst %s window: %s", t.Threshold.Window, detail)
			}
			r.addCheck(report.JournalCheck{Kind: "threshold", Expression: t.Threshold.Source, Verdict: v, Measured: t.Threshold.Format(t.Value), Detail: detail})
		}
	}
	if failed && r.out.Code == 0 {
		r.out.Code = exitcode.Failed
	}
}

// Recovery: the p99 of an interval counts as back to normal within
// recoveryTolerance of the baseline's p99 (or recoveryFloor above it, for
// baselines of a millisecond or two, where a quarter is noise), and
// recovery needs recoveryStable such intervals in a row.
const (
	recoveryTolerance = 0.25
	recoveryFloor     = 2 * time.Millisecond
	recoveryStable    = 3
)

// timeToRecover is the time from the last revert to the start of the first
// run of recoveryStable intervals whose p99 and error rate are back near
// the baseline's: +Inf if that never happened, NaN with no revert.
func (r *runState) timeToRecover() float64 {
	if !r.reverted || r.lastRevert < 0 {
		return math.NaN()
	}
	base := r.samples[r.plan.Baseline]
	if len(base) == 0 {
		return math.NaN()
	}
	p99 := &refNode{metric: "p99"}
	errRate := &refNode{metric: "error_rate"}
	baseP99 := metricValue(p99, base, nil)
	baseErr := metricValue(errRate, base, nil)
	limit := math.Max(baseP99*(1+recoveryTolerance), baseP99+float64(recoveryFloor))
	var all []*sample
	for _, p := range r.plan.Phases {
		all = append(all, r.samples[p.Name]...)
	}
	after := false
	for _, s := range all {
		after = after || s.end.Sub(r.loadStart) > r.lastRevert
	}
	if !after {
		return math.NaN() // reverted as the load ended: nothing to judge
	}
	run := 0
	for i, s := range all {
		if s.end.Sub(r.loadStart) <= r.lastRevert {
			continue
		}
		one := []*sample{s}
		v, e := metricValue(p99, one, nil), metricValue(errRate, one, nil)
		if !math.IsNaN(v) && v <= limit && (math.IsNaN(e) || e <= baseErr+0.01) {
			run++
			if run == recoveryStable {
				first := all[i-recoveryStable+1]
				return math.Max(0, float64(first.start.Sub(r.loadStart)-r.lastRevert))
			}
		} else {
			run = 0
		}
	}
	return math.Inf(1)
}

// teardown runs the rollbacks and stops what setUp started. Proxies are
// deleted after the load has stopped.
func (r *runState) teardown() {
	if r.session != nil {
		r.revertAll()
		bg := context.WithoutCancel(context.Background())
		for i := len(r.proxies) - 1; i >= 0; i-- {
			if err := r.session.Revert(bg, r.proxies[i]); err != nil {
				r.logf("faultline: delete proxy: %v", err)
				r.out.Code, r.out.Message = exitcode.RevertFailed, fmt.Sprintf("a proxy could not be deleted: %v", err)
			}
		}
		r.proxies = nil
	}
	r.runRollbacks()
	if r.toxi != nil {
		r.toxi.Close()
		r.toxi = nil
	}
	if r.shop != nil {
		r.shop.Close()
		r.shop = nil
	}
	if r.docker != nil {
		if err := r.docker.Close(context.WithoutCancel(context.Background())); err != nil {
			r.logf("faultline: remove the shop's containers: %v", err)
		}
		r.docker = nil
	}
	if r.env != nil {
		r.env.Close()
	}
}

func (r *runState) runRollbacks() {
	ctx := context.WithoutCancel(context.Background())
	for i, a := range r.plan.Rollbacks {
		name := a.Name
		if name == "" {
			name = fmt.Sprintf("rollbacks[%d]", i)
		}
		var err error
		switch {
		case a.HTTP != nil:
			h := *a.HTTP
			if h.Timeout == 0 {
				h.Timeout = a.Timeout
			}
			var resp *http.Response
			resp, _, _, err = doHTTP(ctx, &h, r.resolve)
			if err == nil && resp.StatusCode >= 400 {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		default:
			var code int
			_, code, err = runCommand(ctx, a.Command, a.Timeout, r.resolve)
			if err == nil && code != 0 {
				err = fmt.Errorf("exit code %d", code)
			}
		}
		if err != nil {
			r.note("rollback %s failed: %v", name, err)
		} else {
			r.note("rollback %s done", name)
		}
	}
}

// finish writes the end of the journal.
func (r *runState) finish() {
	if !r.loadStart.IsZero() {
		r.out.Phases = r.phaseSummaries()
	}
	if r.out.End.IsZero() {
		r.out.End = time.Now()
	}
	outcome := r.outcome
	if r.out.Code == exitcode.Failed {
		outcome = "completed: a hypothesis did not hold"
	}
	r.journalWrite(report.JournalRecord{Type: "end", End: &report.JournalEnd{ExitCode: int(r.out.Code), Outcome: outcome, Message: r.out.Message}})
	if err := r.journal.Close(); err != nil {
		fmt.Fprintf(r.opts.Log, "faultline: journal: %v\n", err)
	}
	if r.lineDrawn {
		fmt.Fprint(r.opts.Log, "\r\033[K")
	}
}
