package distrib

import (
	"context"
	"fmt"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report/results"
)

// collector merges the workers' intervals as they arrive. Interval k of
// the run is the merge (loadgen.Stats.Merge, exact for histograms and
// counts, as report merge does) of every worker's interval k: the workers
// start on one clock with one interval length, so their k-th intervals
// cover the same span. A merged interval is handed on once every worker
// still running has sent its k-th; a lost worker no longer holds the
// others back.
type collector struct {
	cfg     Config
	peers   []*peer
	model   loadgen.Model
	planned time.Duration
	rate    float64
	runID   string
	start   time.Time

	pending     map[int]*loadgen.Stats
	emitted     int
	total       *loadgen.Stats
	interrupted bool
}

func newCollector(cfg Config, peers []*peer, sched loadgen.Schedule) *collector {
	id, _ := NewToken()
	return &collector{cfg: cfg, peers: peers, model: loadgen.ModelOf(sched), planned: sched.Duration(),
		rate: loadgen.MeanRate(sched), runID: id[:16], pending: map[int]*loadgen.Stats{}}
}

// awaitAccepted waits until every worker has accepted the run, before the
// start: a run starts with all its workers or not at all.
func (c *collector) awaitAccepted(ctx context.Context, events <-chan event, start time.Time) error {
	deadline := time.NewTimer(time.Until(start))
	defer deadline.Stop()
	for waiting := len(c.peers); waiting > 0; {
		select {
		case ev, ok := <-events:
			if !ok {
				return fmt.Errorf("every worker stream ended before the start")
			}
			p := c.peers[ev.worker]
			if ev.err != nil {
				return fmt.Errorf("worker %s (%s): %w", p.Name, p.Segment, ev.err)
			}
			if ev.msg.Type == MsgError {
				return fmt.Errorf("worker %s (%s): %s", p.Name, p.Segment, ev.msg.Error)
			}
			if ev.msg.Type == MsgAccepted && !p.accepted {
				p.accepted = true
				waiting--
			}
			c.handle(ev)
		case <-deadline.C:
			return fmt.Errorf("not every worker accepted the run within the lead time of %s", c.cfg.Lead)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// stop ends every stream and waits for the readers.
func (c *collector) stop(events <-chan event) {
	for _, p := range c.peers {
		p.cancel()
	}
	for range events {
	}
}

// collect handles the workers' messages until every stream has ended,
// checking for silent workers as it goes.
func (c *collector) collect(ctx context.Context, events <-chan event) {
	tick := time.NewTicker(c.cfg.Silence / 10)
	defer tick.Stop()
	done := ctx.Done()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				c.emit(true)
				return
			}
			c.handle(ev)
		case now := <-tick.C:
			for _, p := range c.peers {
				if !p.done && now.Sub(p.heard) > c.cfg.Silence {
					c.lose(p, StateSilent, fmt.Sprintf("said nothing for %s", c.cfg.Silence.Round(time.Millisecond)))
				}
			}
			c.emit(false)
		case <-done:
			// Interrupted: hanging up stops every worker's run.
			c.interrupted, done = true, nil
			for _, p := range c.peers {
				p.done = true
				p.cancel()
			}
		}
	}
}

// handle takes one message of a worker.
func (c *collector) handle(ev event) {
	p := c.peers[ev.worker]
	if p.done {
		return
	}
	if ev.err != nil {
		c.lose(p, StateDied, ev.err.Error())
		c.emit(false)
		return
	}
	p.heard = time.Now()
	m := ev.msg
	switch m.Type {
	case MsgStarted:
		p.started = m.At.Add(-p.clock.Offset)
		p.StartSkewMs = ms(p.started.Sub(c.start))
	case MsgInterval:
		if err := c.add(p, m); err != nil {
			c.lose(p, StateFailed, err.Error())
		}
	case MsgEnd:
		p.end, p.Sent = m.End, m.End.Sent
		if m.End.Interrupted {
			// Stopped on its side before its schedule ended (SIGTERM: a
			// pod deleted, a node drained), since this coordinator had
			// not hung up: the rest of its share was never sent.
			c.lose(p, StateDied, "stopped before the end of its schedule (interrupted on the worker's side)")
			break
		}
		p.done = true
		p.cancel()
	case MsgError:
		c.lose(p, StateFailed, m.Error)
	}
	c.emit(false)
}

// add merges one of p's intervals into the run's interval of its number.
func (c *collector) add(p *peer, m Message) error {
	if m.Interval == nil || m.Seq != p.next {
		return fmt.Errorf("interval %d out of order (expected %d)", m.Seq, p.next)
	}
	// The worker's offsets count from its start, read on the coordinator's
	// clock, so every worker's intervals land on one time line.
	iv, err := results.DecodeInterval(m.Interval, p.started)
	if err != nil {
		return fmt.Errorf("interval %d: %w", m.Seq, err)
	}
	p.next++
	p.Intervals++
	p.Scheduled += iv.Scheduled
	p.Requests += iv.Completed("")
	p.Failed += iv.Failed("")
	// Until its end message says, what was sent is what was scheduled and
	// neither dropped nor abandoned.
	p.Sent += iv.Scheduled - iv.Dropped - iv.Unfinished
	if c.model == loadgen.Open && iv.SendLag.TotalCount() > 0 {
		lag := time.Duration(iv.SendLag.ValueAtQuantile(99))
		p.WorstSendLagMs = max(p.WorstSendLagMs, ms(lag))
		if lag > c.cfg.MaxSendLag && !p.Lagging {
			p.Lagging, p.LaggingSince = true, iv.Start
		}
	}
	merged := c.pending[m.Seq]
	if merged == nil {
		merged = loadgen.NewStats(time.Time{}, time.Time{})
		c.pending[m.Seq] = merged
	}
	merged.Merge(iv)
	return nil
}

// lose marks p lost: its stream is ended and the rest of its share counted
// as not sent.
func (c *collector) lose(p *peer, state, reason string) {
	p.done = true
	p.State, p.Reason, p.Since = state, reason, p.heard
	if c.model == loadgen.Open {
		p.NotSent = max(0, p.Planned-p.Scheduled)
	}
	p.cancel()
}

// emit hands on the merged intervals every running worker has sent; all
// of them at the end.
func (c *collector) emit(all bool) {
	for {
		merged, ok := c.pending[c.emitted]
		if !ok {
			return
		}
		for _, p := range c.peers {
			if !all && !p.done && p.next <= c.emitted {
				return
			}
		}
		delete(c.pending, c.emitted)
		c.emitted++
		if c.total == nil {
			c.total = loadgen.NewStats(c.start, c.start)
		}
		c.total.Merge(merged)
		if c.cfg.OnInterval != nil {
			c.cfg.OnInterval(merged)
		}
	}
}

// outcome is the merged result and the workers' reports.
func (c *collector) outcome() *Outcome {
	end := time.Now()
	if c.total == nil {
		c.total = loadgen.NewStats(c.start, c.start)
	}
	res := &loadgen.Result{Model: c.model, Start: c.start, End: end, Planned: c.planned, Total: c.total,
		Intervals: c.emitted, TargetRate: c.rate, Interrupted: c.interrupted}
	var cpu time.Duration
	o := &Outcome{Result: res}
	for _, p := range c.peers {
		if p.State == "" {
			p.State = StateOK
		}
		res.Sent += p.Sent
		if e := p.end; e != nil {
			res.LastSend = max(res.LastSend, time.Duration(e.LastSendMs*float64(time.Millisecond)))
			cpu += time.Duration(e.CPUSeconds * float64(time.Second))
			res.Generator.Cores += e.Cores
			res.Generator.Utilization = max(res.Generator.Utilization, e.Utilization)
			if res.Engine == "" {
				res.Engine = loadgen.Engine(e.Engine)
			}
		}
		o.Workers = append(o.Workers, p.WorkerReport)
	}
	res.Generator.CPU = cpu
	return o
}
