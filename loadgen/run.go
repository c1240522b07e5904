package loadgen

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Model is the load model of a run.
type Model string

// The two load models.
const (
	// Open sends requests on a schedule of arrival times, whether or not
	// earlier requests have completed (like real users arriving).
	Open Model = "open"
	// Closed runs a number of virtual users, each sending its next request
	// when its previous one completed.
	Closed Model = "closed"
)

// Defaults for Options fields left zero.
const (
	DefaultConnections    = 100
	DefaultMaxInFlight    = 10000
	DefaultTimeout        = 30 * time.Second
	DefaultConnectTimeout = 10 * time.Second
	DefaultGrace          = 10 * time.Second
	DefaultInterval       = time.Second
	DefaultUserAgent      = "faultline"
	// h2Streams is how many requests the open model keeps in flight per
	// HTTP/2 connection at most.
	h2Streams = 100
)

// Options configures one run of the load engine.
type Options struct {
	Targets []Target
	// Schedule is the load's shape: when requests are due (open model) or
	// how many virtual users run (closed model). It sets Model.
	Schedule Schedule

	// Model, Rate, Stages, Poisson, Seed, Concurrency and Duration are a
	// shorthand for a Schedule (see Shape), used when Schedule is nil.
	Model   Model
	Rate    float64
	Stages  []Stage
	Poisson bool
	Seed    uint64
	// MaxInFlight bounds requests waiting for a connection plus requests in
	// flight; a request scheduled beyond it is dropped and counted.
	MaxInFlight int
	// Connections is the number of connections (and so of requests on the
	// wire at once over HTTP/1.1) in the open model.
	Connections int

	// Concurrency is the closed model's shorthand start users. ThinkTime is
	// a pause after each response.
	Concurrency int
	ThinkTime   time.Duration

	Duration       time.Duration // the shorthand's length without Stages
	Grace          time.Duration // how long requests in flight at the end may still complete
	Timeout        time.Duration // per request, connecting included
	ConnectTimeout time.Duration
	HTTP2          bool // HTTP/2: over TLS for https, h2c with prior knowledge for http
	TLS            TLSOptions
	UserAgent      string

	// Interval is the length of the recording intervals (default 1s).
	Interval time.Duration
	// OnInterval, when set, receives each interval's statistics on the
	// collector goroutine as soon as the interval ends. It must not keep
	// using the Stats after a later call has begun unless it owns them: each
	// call gets a fresh Stats value, so keeping it is safe.
	OnInterval func(*Stats)
	// OnStart, when set, is called with the start of the schedule just
	// before the first request is due, so that other timelines (phases,
	// faults) can be laid on the same clock.
	OnStart func(time.Time)

	// Engine picks how requests are sent (default EngineAuto: the epoll
	// engine where it serves the run).
	Engine Engine
}

func (o *Options) setDefaults() {
	if o.Connections == 0 {
		o.Connections = DefaultConnections
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.Grace == 0 {
		o.Grace = DefaultGrace
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if o.Engine == "" {
		o.Engine = EngineAuto
	}
	for i := range o.Targets {
		if o.Targets[i].Name == "" {
			o.Targets[i].Name = o.Targets[i].DefaultName()
		}
		if o.Targets[i].Weight == 0 {
			o.Targets[i].Weight = 1
		}
		if o.Targets[i].Header == nil {
			o.Targets[i].Header = http.Header{}
		}
	}
}

// Validate reports every problem with the options at once.
func (o *Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(o.Targets) == 0 {
		bad("no targets")
	}
	// The TLS files are read now, whatever the targets' scheme: a missing
	// certificate named for an http target is a mistake to report, not to
	// ignore because no connection happens to need it.
	if _, err := o.TLS.config(nil); err != nil {
		bad("%v", err)
	}
	for _, t := range o.Targets {
		if t.URL == nil {
			bad("target %q has no URL", t.Name)
		}
		if t.Weight < 0 {
			bad("target %q: weight must not be negative", t.Name)
		}
	}
	if o.Connections < 0 {
		bad("connections must not be negative")
	}
	if o.MaxInFlight < 0 {
		bad("max-in-flight must not be negative")
	}
	if o.ThinkTime < 0 {
		bad("think time must not be negative")
	}
	if sched, err := o.schedule(); err != nil {
		errs = append(errs, err)
	} else {
		if ModelOf(sched) == Open && o.ThinkTime != 0 {
			bad("concurrency and think time belong to the closed model")
		}
		if err := checkPeak(sched); err != nil {
			errs = append(errs, err)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"timeout", o.Timeout}, {"connect timeout", o.ConnectTimeout}, {"grace", o.Grace}, {"interval", o.Interval}} {
		if d.v < 0 {
			bad("%s must not be negative", d.name)
		}
	}
	o.validateEngine(bad)
	return errors.Join(errs...)
}

// schedule is the run's Schedule: Schedule itself, or the one the shorthand
// fields describe. It sets Model to the schedule's.
func (o *Options) schedule() (Schedule, error) {
	if o.Schedule == nil {
		if o.Model == Open && o.Concurrency != 0 {
			return nil, errors.New("concurrency and think time belong to the closed model")
		}
		return Shape{Model: o.Model, Rate: o.Rate, Concurrency: o.Concurrency, Stages: o.Stages,
			Duration: o.Duration, Poisson: o.Poisson, Seed: o.Seed}.Schedule()
	}
	if o.Rate != 0 || len(o.Stages) > 0 || o.Concurrency != 0 || o.Duration != 0 || o.Poisson || o.Seed != 0 {
		return nil, errors.New("give a Schedule or its shorthand (rate, stages, concurrency, duration, poisson, seed), not both")
	}
	if m := ModelOf(o.Schedule); o.Model != "" && o.Model != m {
		return nil, fmt.Errorf("the schedule is %s-model but the options say %s", m, o.Model)
	}
	if v, ok := o.Schedule.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return nil, err
		}
	}
	return o.Schedule, nil
}

// Result is the outcome of a run.
type Result struct {
	Model Model
	// Start is when the schedule began; End is when the last request
	// completed (or was abandoned).
	Start, End time.Time
	// Planned is the schedule's length (stages summed, or Duration).
	Planned time.Duration
	// Total merges every interval of the run.
	Total *Stats
	// Intervals is how many intervals were delivered to OnInterval.
	Intervals int
	// TargetRate is the mean arrival rate the schedule asked for (open
	// model) and Sent how many requests actually left the generator.
	TargetRate float64
	Sent       int64
	// LastSend is the offset from Start of the last request sent.
	LastSend time.Duration
	// Interrupted is set when the run was stopped by its context before
	// the schedule ended.
	Interrupted bool
	Generator   GeneratorHealth
	// Engine is the engine that ran (EngineEpoll or EngineGoroutine).
	Engine Engine
}

// SendRate is the rate at which requests actually left the generator:
// requests sent divided by the longer of the schedule and the time of the
// last send, so a generator that falls behind shows a lower rate.
func (r *Result) SendRate() float64 {
	span := r.Planned
	if r.LastSend > span {
		span = r.LastSend
	}
	if span <= 0 {
		return 0
	}
	return float64(r.Sent) / span.Seconds()
}

// GeneratorHealth says whether the generator itself kept up.
type GeneratorHealth struct {
	CPU   time.Duration // user + system CPU time of this process during the run
	Cores int           // GOMAXPROCS
	// Utilization is CPU / (wall time x Cores): near 1 the generator was
	// saturated and its measurements include its own queueing.
	Utilization float64
}

// Saturated reports a generator that used more than 90% of its cores.
func (g GeneratorHealth) Saturated() bool { return g.Utilization > 0.9 }

// token is one scheduled request handed from the dispatcher to a worker.
type token struct {
	intended time.Time
	target   int
}

// engine is the state of one run.
type engine struct {
	opts      Options
	endpoints []*endpoint
	targetEP  []int    // target index -> endpoint index
	raw       [][]byte // target index -> serialised HTTP/1.1 request
	rec       *recorder
	h2        []*h2Client
	kind      Engine      // the engine that runs: EngineEpoll or EngineGoroutine
	events    eventEngine // the epoll engine, when it runs

	start    time.Time
	runCtx   context.Context // cancelled to abandon requests in flight
	abandon  context.CancelFunc
	stopping atomic.Bool // set when requests in flight are abandoned

	scheduled, dropped, unfinished, sent atomic.Int64
	lastSend                             atomic.Int64 // nanoseconds after start
	inflight                             atomic.Int64

	connsMu sync.Mutex
	conns   []*h1Conn
}

// Run drives load as opts say and returns what was measured. It returns
// when the schedule has ended and the requests in flight have completed (or
// the grace period ran out), or soon after ctx is cancelled, in which case
// the Result covers what ran and Interrupted is set.
func Run(ctx context.Context, opts Options) (*Result, error) {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	sched, err := opts.schedule()
	if err != nil {
		return nil, err
	}
	opts.Model = ModelOf(sched)
	e, err := newEngine(opts, sched)
	if err != nil {
		return nil, err
	}
	defer e.closeClients()
	planned := sched.Duration()

	cpuBefore := processCPU()
	e.start = time.Now()
	if opts.OnStart != nil {
		opts.OnStart(e.start)
	}
	e.runCtx, e.abandon = context.WithCancel(context.Background())
	defer e.abandon()

	res := &Result{Model: opts.Model, Start: e.start, Planned: planned, Total: NewStats(e.start, e.start),
		TargetRate: MeanRate(sched), Engine: e.kind}

	// The collector owns the interval ticks; it stops when done is closed
	// and delivers the last, partial interval before it returns.
	done := make(chan struct{})
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		e.collect(done, res)
	}()

	var workers sync.WaitGroup
	scheduleDone := make(chan struct{})
	if e.events != nil {
		e.events.start(ctx, sched, &workers, scheduleDone)
		if _, closed := sched.(ClosedSchedule); closed {
			go waitPlanned(ctx, planned, scheduleDone)
		}
	} else {
		e.startGoroutines(ctx, sched, &workers, scheduleDone)
	}

	e.drain(ctx, &workers, scheduleDone, opts.Grace, res)
	res.End = time.Now()
	close(done)
	<-collected

	res.Sent = e.sent.Load()
	res.LastSend = time.Duration(e.lastSend.Load())
	res.Generator = generatorHealth(res.End.Sub(res.Start), processCPU()-cpuBefore)
	return res, nil
}

// drain waits for the schedule to end (or ctx), then gives the requests in
// flight the grace period (none when interrupted) before abandoning them,
// and returns when every worker has stopped. It marks res interrupted when
// ctx ended the run.
func (e *engine) drain(ctx context.Context, workers *sync.WaitGroup, scheduleDone <-chan struct{}, grace time.Duration, res *Result) {
	workersDone := make(chan struct{})
	go func() { workers.Wait(); close(workersDone) }()

	<-scheduleDone
	if ctx.Err() != nil {
		grace = 0
		res.Interrupted = true
	}
	graceTimer := time.NewTimer(grace)
	defer graceTimer.Stop()
	select {
	case <-workersDone:
	case <-graceTimer.C:
		e.abandonInFlight()
		<-workersDone
	case <-ctx.Done():
		res.Interrupted = true
		e.abandonInFlight()
		<-workersDone
	}
}

// generatorHealth is the generator's CPU over a run of wall time: the CPU
// it used and its share of the cores it had.
func generatorHealth(wall, cpu time.Duration) GeneratorHealth {
	cores := runtime.GOMAXPROCS(0)
	h := GeneratorHealth{CPU: cpu, Cores: cores}
	if wall > 0 {
		h.Utilization = cpu.Seconds() / (wall.Seconds() * float64(cores))
	}
	return h
}

// startGoroutines starts the goroutine engine: in the open model a
// dispatcher and a worker per connection (per stream over HTTP/2), in the
// closed model a goroutine per virtual user.
func (e *engine) startGoroutines(ctx context.Context, sched Schedule, workers *sync.WaitGroup, scheduleDone chan struct{}) {
	switch sched := sched.(type) {
	case OpenSchedule:
		ch := make(chan token, e.opts.MaxInFlight)
		n := e.opts.Connections
		if e.opts.HTTP2 {
			n = min(e.opts.Connections*h2Streams, e.opts.MaxInFlight)
		}
		for i := 0; i < n; i++ {
			workers.Add(1)
			go func() {
				defer workers.Done()
				e.openWorker(i, ch)
			}()
		}
		go func() {
			defer close(scheduleDone)
			defer close(ch)
			e.dispatch(ctx, sched, ch)
		}()
	case ClosedSchedule:
		end := e.start.Add(sched.Duration())
		for i := 0; i < sched.Users(); i++ {
			workers.Add(1)
			go func() {
				defer workers.Done()
				e.virtualUser(ctx, i, sched, end)
			}()
		}
		go waitPlanned(ctx, sched.Duration(), scheduleDone)
	}
}

// waitPlanned closes scheduleDone when the closed model's planned length
// has passed or ctx has ended.
func waitPlanned(ctx context.Context, planned time.Duration, scheduleDone chan<- struct{}) {
	defer close(scheduleDone)
	t := time.NewTimer(planned)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func newEngine(opts Options, sched Schedule) (*engine, error) {
	e := &engine{opts: opts, targetEP: make([]int, len(opts.Targets)), raw: make([][]byte, len(opts.Targets))}
	var h1TLS, h2TLS *tls.Config
	for _, t := range opts.Targets {
		if t.URL.Scheme != "https" || h1TLS != nil {
			continue
		}
		var err error
		if h1TLS, err = opts.TLS.config([]string{"http/1.1"}); err != nil {
			return nil, err
		}
		if h2TLS, err = opts.TLS.config([]string{"h2"}); err != nil {
			return nil, err
		}
	}
	index := map[string]int{}
	for i, t := range opts.Targets {
		e.raw[i] = rawRequest(t, opts.UserAgent)
		addr := t.URL.Host
		if t.URL.Port() == "" {
			port := "80"
			if t.URL.Scheme == "https" {
				port = "443"
			}
			addr = net.JoinHostPort(t.URL.Hostname(), port)
		}
		key := t.URL.Scheme + "://" + addr
		n, ok := index[key]
		if !ok {
			ep := &endpoint{addr: addr}
			if t.URL.Scheme == "https" {
				ep.tls = h1TLS.Clone()
				ep.tls.ServerName = t.URL.Hostname()
			}
			n = len(e.endpoints)
			index[key] = n
			e.endpoints = append(e.endpoints, ep)
		}
		e.targetEP[i] = n
	}
	if opts.HTTP2 {
		clients := opts.Connections
		if c, ok := sched.(ClosedSchedule); ok {
			clients = c.Users()
		}
		for i := 0; i < clients; i++ {
			// net/http edits a transport's TLS config on first use, so
			// each transport gets its own copy.
			var cfg *tls.Config
			if h2TLS != nil {
				cfg = h2TLS.Clone()
			}
			e.h2 = append(e.h2, newH2Client(cfg, opts.ConnectTimeout))
		}
	}
	e.rec = newRecorder(opts.Targets, max(2, runtime.GOMAXPROCS(0)))
	if err := e.chooseEngine(sched); err != nil {
		return nil, err
	}
	return e, nil
}

// dispatchSlack is how long after the end of its schedule a dispatcher that
// fell behind may still send.
const dispatchSlack = time.Second

// dispatch walks the schedule, handing each request to the workers at its
// intended time, or counting it as dropped when MaxInFlight requests are
// already waiting or in flight. A late dispatcher never shifts the schedule:
// requests keep their intended times, so its lateness shows as send lag and
// in the latency. Whatever the rate, it stops sending dispatchSlack after the
// schedule's end and counts the requests still due as dropped, so that the
// schedule's length bounds the run's.
func (e *engine) dispatch(ctx context.Context, sched OpenSchedule, ch chan<- token) {
	p := newPicker(e.opts.Targets)
	sl := newSleeper()
	defer sl.close()
	sendCtx, stop := context.WithDeadline(ctx, e.start.Add(sched.Duration()+dispatchSlack))
	defer stop()
	limit := int64(e.opts.MaxInFlight)
	arrivals := sched.Arrivals()
	var walked int64 // arrivals handed out or dropped so far
	for ; ; walked++ {
		off, ok := arrivals.Next()
		if !ok {
			return
		}
		intended := e.start.Add(off)
		if !sl.until(sendCtx, intended) {
			if ctx.Err() == nil {
				// Every request from this one on was due and could not
				// be sent on time.
				n := max(0, sched.Planned()-walked)
				e.scheduled.Add(n)
				e.dropped.Add(n)
			}
			return
		}
		e.scheduled.Add(1)
		target := p.next()
		if e.inflight.Load() >= limit {
			e.dropped.Add(1)
			continue
		}
		e.inflight.Add(1)
		ch <- token{intended: intended, target: target}
	}
}

// worker is one sender: over HTTP/1.1 it owns one connection per origin.
type worker struct {
	id    int
	conns []*h1Conn
	h2    *h2Client
	// h2Body holds the start of the last failing HTTP/2 response's body
	// (h1Conn keeps its own); allocated on the first failure.
	h2Body []byte
}

func (e *engine) newWorker(id int) *worker {
	w := &worker{id: id, conns: make([]*h1Conn, len(e.endpoints))}
	if len(e.h2) > 0 {
		w.h2 = e.h2[id%len(e.h2)]
	}
	return w
}

func (e *engine) openWorker(id int, ch <-chan token) {
	w := e.newWorker(id)
	defer w.close()
	var s sample
	for tok := range ch {
		if e.stopping.Load() {
			e.inflight.Add(-1)
			e.unfinished.Add(1)
			continue
		}
		send := time.Now()
		ok := e.send(w, tok.target, send, &s)
		done := time.Now()
		e.inflight.Add(-1)
		if !ok {
			e.unfinished.Add(1)
			continue
		}
		s.latency, s.service = done.Sub(tok.intended), done.Sub(send)
		s.lag, s.hasLag = send.Sub(tok.intended), true
		e.rec.record(id, tok.target, &s)
	}
}

// virtualUser is one closed-model user: while the schedule says it is
// active it sends a request, waits for the response, thinks, and repeats.
func (e *engine) virtualUser(ctx context.Context, id int, sched ClosedSchedule, end time.Time) {
	w := e.newWorker(id)
	defer w.close()
	p := newPicker(e.opts.Targets)
	// Start users at different points of the weight cycle so that a few
	// users do not all send the same target first.
	for i := 0; i < id%max(1, p.total); i++ {
		p.next()
	}
	var s sample
	for {
		now := time.Now()
		if !now.Before(end) || ctx.Err() != nil || e.stopping.Load() {
			return
		}
		if !sched.Active(id, now.Sub(e.start)) {
			if !sleepCtx(ctx, min(10*time.Millisecond, end.Sub(now))) {
				return
			}
			continue
		}
		target := p.next()
		e.scheduled.Add(1)
		send := time.Now()
		ok := e.send(w, target, send, &s)
		done := time.Now()
		if !ok {
			e.unfinished.Add(1)
			return
		}
		s.latency, s.service, s.hasLag = done.Sub(send), done.Sub(send), false
		e.rec.record(id, target, &s)
		if e.opts.ThinkTime > 0 && !sleepCtx(ctx, e.opts.ThinkTime) {
			return
		}
	}
}

// send performs one request and fills s with its status, error class and
// byte counts. It returns false when the request was abandoned because the
// run is stopping, so that it is counted as unfinished rather than as an
// error of the target.
func (e *engine) send(w *worker, target int, now time.Time, s *sample) bool {
	e.sent.Add(1)
	if off := int64(now.Sub(e.start)); off > e.lastSend.Load() {
		e.lastSend.Store(off)
	}
	deadline := now.Add(e.opts.Timeout)
	var err error
	*s = sample{}
	if w.h2 != nil {
		var kept int
		s.status, s.in, s.out, kept, err = w.h2.roundTrip(e.runCtx, &e.opts.Targets[target], deadline, &w.h2Body)
		if s.status >= 400 {
			s.body, s.bodyMore = w.h2Body[:kept], s.in > int64(kept)
		}
	} else {
		ep := e.targetEP[target]
		c := w.conns[ep]
		if c == nil {
			c = newH1Conn(e.endpoints[ep], e.opts.ConnectTimeout)
			w.conns[ep] = c
			e.connsMu.Lock()
			e.conns = append(e.conns, c)
			e.connsMu.Unlock()
		}
		raw := e.raw[target]
		s.out = int64(len(raw))
		s.status, s.in, err = c.roundTrip(raw, e.opts.Targets[target].Method == http.MethodHead, deadline, e.opts.Timeout)
		if s.status >= 400 {
			s.body, s.bodyMore = c.failureBody()
		}
	}
	if err != nil {
		if e.stopping.Load() {
			return false
		}
		s.status = 0
		s.errClass = classify(err)
		s.err = err
	}
	return true
}

func (w *worker) close() {
	for _, c := range w.conns {
		if c != nil {
			c.close()
		}
	}
}

// abandonInFlight stops the run now: requests on the wire fail at once and
// are counted as unfinished, as are requests still waiting to be sent.
func (e *engine) abandonInFlight() {
	e.stopping.Store(true)
	e.abandon()
	if e.events != nil {
		e.events.abort()
	}
	e.connsMu.Lock()
	for _, c := range e.conns {
		c.abort()
	}
	e.connsMu.Unlock()
}

func (e *engine) closeClients() {
	if e.events != nil {
		e.events.close()
	}
	for _, c := range e.h2 {
		c.close()
	}
}

// collect delivers an interval every opts.Interval, aligned to the start of
// the run, and the last partial one when done is closed.
func (e *engine) collect(done <-chan struct{}, res *Result) {
	ticker := time.NewTicker(e.opts.Interval)
	defer ticker.Stop()
	from := e.start
	flush := func(to time.Time) {
		st := NewStats(from, to)
		e.rec.drain(st)
		st.Scheduled = e.scheduled.Swap(0)
		st.Dropped = e.dropped.Swap(0)
		st.Unfinished = e.unfinished.Swap(0)
		runtime.Gosched()
		res.Total.Merge(st)
		res.Intervals++
		runtime.Gosched()
		if e.opts.OnInterval != nil {
			e.opts.OnInterval(st)
		}
		from = to
	}
	for {
		select {
		case <-ticker.C:
			flush(time.Now())
		case <-done:
			flush(res.End)
			return
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// processCPU is the user plus system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
