package experiments

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/internal/distrib"
	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report"
	"github.com/faultline-dev/faultline/report/journal"
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
	// Live, when set, receives every interval with its phase and the
	// faults active (live metrics).
	Live LiveSink
	// Image overrides the targets image of the shop in Docker mode
	// (targets.image) and on Kubernetes (targets.kubernetes.image).
	Image string
	// Kube overrides targets.kubernetes's kubeconfig, context and
	// namespace, field by field (faultline run --kubeconfig, --context,
	// --namespace).
	Kube targets.KubeConfig
	// Generators overrides load.generators when positive (faultline run
	// --generators N).
	Generators int
	// StartGenerators starts the workers of a load on several generators
	// (local processes, pods); it is needed when the experiment asks for
	// generators.
	StartGenerators StartGenerators

	// hooks let this package's tests look at the targets between the
	// steps of a run (the cluster's state before the faults and after
	// their reverts).
	hooks runHooks
}

type runHooks struct {
	afterSetUp, afterRevert func()
}

// Result is what a run did: how it ended (its exit code and why), its
// checks, its fault events, the load's figures, and where the journal and
// reports are.
type Result struct {
	Code    exitcode.Code
	Message string
	Dir     string
	Journal string
	Checks  []journal.Check
	Faults  []journal.Fault
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
	// Report is the run as the reports drew it (read back from the
	// journal), nil when the journal could not be read.
	Report *report.Run
	// Generators is what each generator did, when the load ran on
	// several.
	Generators *distrib.Outcome
}

// runner is one run. Its parts: the environment (what is started around
// the load), the timeline that drives the load, the fault driver, the
// abort watch, the judge, the live display and the journal. Only the
// runner's goroutine touches any of it.
type runner struct {
	plan      *Plan
	opts      RunOptions
	res       *Result
	end       ending
	rng       *rand.Rand
	clock     *runClock
	show      *display
	journal   *runJournal
	env       *environment
	faults    *faultDriver
	watch     *abortWatch
	archive   *archive // what is kept of the intervals, by phase
	evaluator *loadgen.Evaluator
	// startLoad runs the load (loadgen.Run; a test passes its own).
	startLoad func(context.Context, loadgen.Options) (*loadgen.Result, error)
}

// Run carries out the plan: it starts the targets and Toxiproxy, creates the
// proxies, runs one load through every phase, checks the steady state
// before the first fault, injects and reverts faults on the timeline,
// watches the abort conditions, judges the hypotheses, runs the rollbacks
// and writes the journal. Whatever happens (success, a deviation, an
// abort, ctx cancelled, a panic), every fault injected is reverted.
func Run(ctx context.Context, plan *Plan, opts RunOptions) (*Result, error) {
	r, err := newRunner(plan, opts)
	if err != nil {
		return nil, exitcode.WrapIfNone(err, exitcode.Runtime)
	}
	return r.run(ctx), nil
}

func newRunner(plan *Plan, opts RunOptions) (*runner, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.LedgerPath == "" {
		var err error
		if opts.LedgerPath, err = chaos.DefaultLedgerPath(opts.Getenv); err != nil {
			return nil, exitcode.Wrap(err, exitcode.Usage)
		}
	}
	clock := &runClock{}
	r := &runner{
		plan: plan, opts: opts, res: &Result{Plan: plan}, clock: clock,
		rng:     rand.New(rand.NewPCG(plan.Exp.Seed, plan.Exp.Seed^0x5eed)),
		show:    &display{w: opts.Log, progress: opts.Progress, clock: clock},
		watch:   newAbortWatch(plan.Abort),
		archive: newArchive(plan, clock), evaluator: loadgen.NewEvaluator(plan.Thresholds),
		startLoad: loadgen.Run,
	}
	runID := fmt.Sprintf("fl%08x", r.rng.Uint32()^uint32(time.Now().UnixNano()))
	j, err := openJournal(plan, opts.Dir, r.res, opts.Log, clock)
	if err != nil {
		return nil, err
	}
	r.journal = j
	r.env = &environment{plan: plan, opts: opts, runID: runID, say: r.show.logf, proxyAddr: map[string]string{}}
	r.faults = newFaultDriver(plan.Faults, j, r.show.logf, opts.LedgerPath)
	return r, nil
}

// run is Run once the journal is open.
func (r *runner) run(ctx context.Context) *Result {
	defer func() {
		// A panic still reverts every fault and closes what was started,
		// then goes on up.
		if p := recover(); p != nil {
			r.note("panic: %v: reverting every fault", p)
			r.faults.revertAll()
			r.env.tearDown(r.note)
			panic(p)
		}
	}()
	r.execute(ctx)
	r.conclude(ctx)
	r.writeReports()
	return r.res
}

// conclude reverts what is left, tears the environment down and writes
// the end of the journal.
func (r *runner) conclude(ctx context.Context) {
	r.settleErr(r.faults.revertAll())
	if h := r.opts.hooks.afterRevert; h != nil {
		h()
	}
	r.settleErr(r.env.tearDown(r.note))
	if ctx.Err() != nil {
		// Whatever the run was doing when it was interrupted, and
		// whatever that made fail, an interrupted run is 130.
		r.end.settle(exitcode.Interrupted, "interrupted: faults reverted")
	}
	r.finish()
}

// fail records that the run ends with code (unless something weightier
// happened; see precedence) and says msg on the log.
func (r *runner) fail(code exitcode.Code, msg string) {
	r.end.settle(code, msg)
	r.show.logf("%s", msg)
}

// settleErr records the code of err, which its part has said on the log.
func (r *runner) settleErr(err error) {
	if err != nil {
		r.end.settle(exitcode.Of(err), err.Error())
	}
}

// note says msg on the log and in the journal.
func (r *runner) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.show.logf("%s", msg)
	r.journal.note(msg)
}

// execute sets the run up, runs the load and judges the run.
func (r *runner) execute(ctx context.Context) {
	opts, err := r.prepare(ctx)
	if err != nil {
		err = exitcode.WrapIfNone(err, exitcode.Runtime)
		msg := "faultline: " + err.Error()
		if problems := (Problems{}); errors.As(err, &problems) {
			msg = problems.Error() // file:line:col: ..., as validation says it
		}
		r.fail(exitcode.Of(err), msg)
		r.journal.start(r.plan, r.opts.Tool, time.Now())
		return
	}
	r.drive(ctx, opts)
}

// drive runs the load along the timeline and judges the run.
func (r *runner) drive(ctx context.Context, opts loadgen.Options) {
	r.runLoad(ctx, opts)
	if t := r.res.Total; r.end.code == exitcode.OK && t != nil && t.Completed("") > 0 && t.Responses("") == 0 {
		r.fail(exitcode.Runtime, "faultline: no request of the load got a response: the targets are unreachable")
	}
	// After an abort the hypotheses are still judged, for the record; so
	// they are after losing a generator.
	if r.end.code == exitcode.OK || r.end.code == exitcode.Aborted {
		if !r.judge(ctx) {
			r.end.settle(exitcode.Failed, "")
		}
	}
	r.noteGenerators()
}

// prepare sets up the environment and builds the load.
func (r *runner) prepare(ctx context.Context) (loadgen.Options, error) {
	if err := r.env.setUp(ctx); err != nil {
		return loadgen.Options{}, err
	}
	if h := r.opts.hooks.afterSetUp; h != nil {
		h()
	}
	r.faults.session = r.env.session
	spec, err := loadSpec(r.plan, r.env.resolve, r.opts.Tool)
	if err != nil {
		return loadgen.Options{}, err
	}
	if r.env.gens != nil {
		r.startLoad = r.distributed(spec)
	}
	return spec.Options()
}

// runLoad starts the load and follows the timeline until the load ends.
func (r *runner) runLoad(ctx context.Context, opts loadgen.Options) {
	// The load stops when the timeline says so, not when ctx is cancelled:
	// the faults are reverted first.
	loadCtx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	intervals := make(chan *loadgen.Stats, 4096)
	started := make(chan time.Time, 1)
	done := make(chan loadDone, 1)
	opts.OnStart = func(t time.Time) { started <- t }
	opts.OnInterval = func(iv *loadgen.Stats) { intervals <- iv }
	go func() {
		res, err := r.startLoad(loadCtx, opts)
		done <- loadDone{res, err}
	}()
	var d loadDone
	select {
	case r.clock.start = <-started:
	case d = <-done:
		r.fail(exitcode.Runtime, fmt.Sprintf("faultline: load: %v", d.err))
		r.journal.start(r.plan, r.opts.Tool, time.Now())
		return
	}
	r.res.Start = r.clock.start
	r.journal.start(r.plan, r.opts.Tool, r.clock.start)
	links := r.startLinkTimer(opts.Interval)
	defer links.stop()
	d = followTimeline(ctx, r.clock.start, timelineOf(r.plan), intervals, done, stopLoad, r)
	if !r.end.stopped() {
		r.faults.noteNotInjected("the load ended before its injection came round: the events before it held the timeline up")
	}
	if d.err != nil {
		r.fail(exitcode.Runtime, fmt.Sprintf("faultline: load: %v", d.err))
	}
	if d.res != nil {
		r.res.Total, r.res.End = d.res.Total, d.res.End
	}
}

// interval files one interval under its phase, draws it and watches the
// abort conditions over it; it reports whether one broke.
func (r *runner) interval(iv *loadgen.Stats, watching bool) bool {
	phase := phaseAt(r.plan.Phases, iv.Start.Add(iv.Duration()/2).Sub(r.clock.start))
	target := phase.Rate
	if r.plan.Model == loadgen.Closed {
		target = 0
	}
	s := r.archive.add(phase.Name, iv, target, r.faults.lastRevert)
	r.journal.interval(phase.Name, iv)
	r.evaluator.Observe(iv)
	faults := r.faults.activeKinds()
	r.show.interval(phase, iv, r.plan.Total, faults)
	if r.opts.Live != nil {
		r.opts.Live.Interval(iv, phase.Name, faults)
	}
	if !watching {
		return false
	}
	check := r.watch.observe(s, phase.Name, r.archive.byPhase())
	if check == nil {
		return false
	}
	r.journal.check(*check)
	r.fail(exitcode.Aborted, fmt.Sprintf("abort: %s (%s): reverting every fault and stopping", check.Expression, check.Detail))
	r.settleErr(r.faults.revertAll())
	return true
}

// event carries out one point of the timeline; false stops the load.
func (r *runner) event(ctx context.Context, ev event) bool {
	switch ev.kind {
	case evSteady:
		if r.checkSteadyState(ctx, "steady_state_before", r.archive.all(r.plan.Phases)) {
			return true
		}
		// A probe cut short by Ctrl-C is not a steady state that failed.
		if ctx.Err() == nil {
			r.fail(exitcode.SteadyState, "the steady state did not hold before any fault: nothing was injected")
		}
		return false
	case evInject:
		if r.end.code != exitcode.OK {
			return false
		}
		if err := r.faults.inject(ctx, ev.fault); err != nil {
			r.fail(exitcode.Of(err), "faultline: "+err.Error())
			r.settleErr(r.faults.revertAll())
			return false
		}
	case evRevert:
		r.settleErr(r.faults.revert(ev.fault))
	}
	return true
}

// interrupt is the first Ctrl-C or SIGTERM: every fault reverted at once.
func (r *runner) interrupt() {
	r.end.settle(exitcode.Interrupted, "interrupted: faults reverted")
	r.show.logf("interrupted: reverting every fault and stopping")
	r.settleErr(r.faults.revertAll())
}

// finish writes the end of the journal.
func (r *runner) finish() {
	if r.clock.started() {
		r.res.Phases = r.phaseSummaries()
	}
	if r.res.End.IsZero() {
		r.res.End = time.Now()
	}
	r.res.Code, r.res.Message = r.end.code, r.end.message
	r.journal.end(r.end)
	r.show.clear()
}
