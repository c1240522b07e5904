package distrib

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
)

// Defaults for Config fields left zero.
const (
	DefaultLead          = 2 * time.Second
	DefaultMaxClockError = 25 * time.Millisecond
	DefaultSilence       = 5 * time.Second
	DefaultMaxSendLag    = 100 * time.Millisecond
)

// Endpoint is a worker the coordinator drives.
type Endpoint struct {
	Name string // how reports call it (default: its hello name, else URL)
	URL  *url.URL
}

// Config is one distributed run.
type Config struct {
	Workers []Endpoint
	Token   string
	// Spec is the whole load; worker i runs its segment i/len(Workers).
	Spec loadgen.Spec
	// Start is the common start (coordinator clock); zero sets it Lead
	// after the hellos. Lead is how far ahead of them it is set.
	Start time.Time
	Lead  time.Duration
	// MaxClockError refuses a worker whose clock offset the hellos could
	// not bound more tightly (half the shortest round trip).
	MaxClockError time.Duration
	// Silence is how long a worker may say nothing (workers send a
	// heartbeat every Silence/5) before it is counted as lost.
	Silence time.Duration
	// MaxSendLag flags a worker whose interval send lag p99 exceeds it: it
	// cannot keep its schedule (open model).
	MaxSendLag time.Duration
	// OnStart receives the common start (coordinator clock); OnInterval
	// each merged interval, in order, on one goroutine.
	OnStart    func(time.Time)
	OnInterval func(*loadgen.Stats)
	Client     *http.Client
	ownClient  bool
}

func (c *Config) setDefaults() {
	if c.Lead == 0 {
		c.Lead = DefaultLead
	}
	if c.MaxClockError == 0 {
		c.MaxClockError = DefaultMaxClockError
	}
	if c.Silence == 0 {
		c.Silence = DefaultSilence
	}
	if c.MaxSendLag == 0 {
		c.MaxSendLag = DefaultMaxSendLag
	}
	if c.Client == nil {
		// A transport of its own, so Run can close its connections when done.
		c.Client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		c.ownClient = true
	}
}

// Outcome is a distributed run: the merged result, as one process would
// have measured it, and what became of each worker.
type Outcome struct {
	Result  *loadgen.Result
	Workers []WorkerReport
}

// Degraded reports a run that lost a worker's share (part of it not sent).
func (o *Outcome) Degraded() bool {
	for _, w := range o.Workers {
		if w.State != StateOK {
			return true
		}
	}
	return false
}

// Lagging lists the workers that could not keep their schedule.
func (o *Outcome) Lagging() []WorkerReport {
	var out []WorkerReport
	for _, w := range o.Workers {
		if w.Lagging {
			out = append(out, w)
		}
	}
	return out
}

// Worker states in a report.
const (
	StateOK     = "ok"     // ran its segment to the end
	StateDied   = "died"   // its stream broke (process killed, connection lost)
	StateSilent = "silent" // said nothing for longer than Config.Silence
	StateFailed = "failed" // reported an error
)

// WorkerReport is what one worker did.
type WorkerReport struct {
	Name    string `json:"name"`
	URL     string `json:"url"`
	Segment string `json:"segment"`
	// ClockOffsetMs is the worker's clock minus the coordinator's, and
	// ClockErrorMs the bound on that measurement; StartSkewMs is when the
	// worker's schedule actually began, after the common start.
	ClockOffsetMs float64 `json:"clock_offset_ms"`
	ClockErrorMs  float64 `json:"clock_error_ms"`
	StartSkewMs   float64 `json:"start_skew_ms"`
	State         string  `json:"state"`
	// Since is the last time the coordinator heard from a lost worker.
	Since  time.Time `json:"since,omitzero"`
	Reason string    `json:"reason,omitempty"`
	// Planned is the segment's requests (open model) or users (closed);
	// Scheduled what its intervals counted; NotSent the requests of a lost
	// worker's share that were due but never reported (open model).
	Planned   int64 `json:"planned"`
	Scheduled int64 `json:"scheduled"`
	NotSent   int64 `json:"not_sent"`
	Intervals int   `json:"intervals"`
	Sent      int64 `json:"sent"`
	// Requests and Failed count its share's completed and failed requests
	// (what a per-generator threshold would have judged).
	Requests int64 `json:"requests"`
	Failed   int64 `json:"failed"`
	// Lagging is set when an interval's send lag p99 exceeded the bound,
	// first at LaggingSince; WorstSendLagMs is the highest p99 seen.
	Lagging        bool      `json:"lagging"`
	LaggingSince   time.Time `json:"lagging_since,omitzero"`
	WorstSendLagMs float64   `json:"worst_send_lag_ms"`
}

// peer is the coordinator's state of one worker.
type peer struct {
	WorkerReport
	url      *url.URL
	clock    Clock
	segment  loadgen.Segment
	cancel   context.CancelFunc
	accepted bool
	started  time.Time // coordinator clock
	heard    time.Time
	next     int // intervals received
	done     bool
	end      *EndReport
}

// Run runs cfg's load on its workers and merges what they measure. It
// returns an error, with nothing sent, when a worker cannot be greeted or
// refuses the run; once the run has started, lost workers are reported in
// the Outcome and the run goes on without them.
func Run(ctx context.Context, cfg Config) (*Outcome, error) {
	cfg.setDefaults()
	if cfg.ownClient {
		defer cfg.Client.CloseIdleConnections()
	}
	if len(cfg.Workers) == 0 {
		return nil, errors.New("no workers")
	}
	sched, err := cfg.Spec.Shape.Schedule()
	if err != nil {
		return nil, err
	}
	peers, err := greetAll(ctx, cfg, sched)
	if err != nil {
		return nil, err
	}
	c := newCollector(cfg, peers, sched)
	start := cfg.Start
	if start.IsZero() {
		start = time.Now().Add(cfg.Lead)
	}
	if time.Until(start) < cfg.Lead/4 {
		return nil, fmt.Errorf("greeting the workers took until %s before the start: too late to start them together", time.Until(start).Round(time.Millisecond))
	}
	c.start = start
	events := c.launch(ctx, start)
	if err := c.awaitAccepted(ctx, events, start); err != nil {
		c.stop(events)
		return nil, err
	}
	if cfg.OnStart != nil {
		cfg.OnStart(start)
	}
	c.collect(ctx, events)
	return c.outcome(), nil
}

// greetAll greets every worker at once and checks its clock.
func greetAll(ctx context.Context, cfg Config, sched loadgen.Schedule) ([]*peer, error) {
	peers := make([]*peer, len(cfg.Workers))
	errs := make([]error, len(cfg.Workers))
	var wg sync.WaitGroup
	for i, ep := range cfg.Workers {
		g := loadgen.Segment{Index: i, Count: len(cfg.Workers)}
		share, err := g.Of(sched)
		if err != nil {
			return nil, err
		}
		p := &peer{url: ep.URL, segment: g}
		p.Name, p.URL, p.Segment, p.Planned = ep.Name, ep.URL.String(), g.String(), share.Planned()
		peers[i] = p
		wg.Go(func() {
			h, clock, err := greet(ctx, cfg.Client, ep.URL, cfg.Token)
			switch {
			case err != nil:
				errs[i] = fmt.Errorf("worker %s (%s): %w", displayName(ep), g, err)
			case clock.Error > cfg.MaxClockError:
				errs[i] = fmt.Errorf("worker %s (%s): its clock offset is known only to ±%s (round trip %s), beyond the bound of ±%s",
					displayName(ep), g, clock.Error, 2*clock.Error, cfg.MaxClockError)
			}
			if p.Name == "" {
				p.Name = h.Name
			}
			p.clock = clock
			p.ClockOffsetMs, p.ClockErrorMs = ms(clock.Offset), ms(clock.Error)
		})
	}
	wg.Wait()
	return peers, errors.Join(errs...)
}

func displayName(ep Endpoint) string {
	if ep.Name != "" {
		return ep.Name
	}
	return ep.URL.String()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// event is one message (or the end of the stream) from worker i.
type event struct {
	worker int
	msg    Message
	err    error // the stream ended without an end message
}

// launch posts every worker's run request and starts a reader per stream;
// the returned channel closes when every reader has stopped.
func (c *collector) launch(ctx context.Context, start time.Time) <-chan event {
	events := make(chan event)
	var wg sync.WaitGroup
	spec := WireSpec(c.cfg.Spec)
	for i, p := range c.peers {
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		p.cancel = cancel
		req := RunRequest{Protocol: Version, RunID: c.runID, Segment: Segment{Index: p.segment.Index, Count: p.segment.Count},
			StartAt: start.Add(p.clock.Offset), Spec: spec, HeartbeatMs: (c.cfg.Silence / 5).Milliseconds()}
		wg.Go(func() { c.read(rctx, i, req, events) })
	}
	go func() { wg.Wait(); close(events) }()
	return events
}

// read posts worker i's run and forwards its messages until the stream
// ends; a stream that ends without an end message yields an error event.
func (c *collector) read(ctx context.Context, i int, req RunRequest, events chan<- event) {
	body, err := json.Marshal(req)
	if err != nil {
		events <- event{worker: i, err: err}
		return
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.peers[i].url.JoinPath(RunPath).String(), bytes.NewReader(body))
	if err != nil {
		events <- event{worker: i, err: err}
		return
	}
	hr.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	hr.Header.Set("Content-Type", "application/json")
	resp, err := c.cfg.Client.Do(hr)
	if err != nil {
		events <- event{worker: i, err: err}
		return
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var m Message
		if dec.Decode(&m) != nil || m.Error == "" {
			m.Error = resp.Status
		}
		events <- event{worker: i, err: fmt.Errorf("refused the run: %s", m.Error)}
		return
	}
	for {
		var m Message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			events <- event{worker: i, err: fmt.Errorf("stream broke: %w", err)}
			return
		}
		events <- event{worker: i, msg: m}
		if m.Type == MsgEnd || m.Type == MsgError {
			return
		}
	}
}
