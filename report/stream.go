package report

import (
	"bufio"
	"encoding/json"
	"io"
	"math"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report/journal"
	"github.com/faultline-dev/faultline/report/results"
)

// aggregate is what the renderers read of a run besides its intervals one
// by one, kept in space that does not grow with the run: each phase's
// intervals and the whole run's merged exactly (so every percentile of a
// phase or of the run is exact), the number of intervals, and the bounded
// series the plots over time draw.
type aggregate struct {
	count      int
	phaseCount []int
	phases     []*loadgen.Stats
	total      *loadgen.Stats
	// points are computed when a plot first needs them (see plotPoints).
	points []plotPoint
	// maxMid is the latest midpoint of an interval: see openResults.
	maxMid time.Time
}

func newAggregate(phases int) *aggregate {
	a := &aggregate{phases: make([]*loadgen.Stats, phases), phaseCount: make([]int, phases), total: newAggregateStats()}
	for i := range a.phases {
		a.phases[i] = newAggregateStats()
	}
	return a
}

// add takes the next interval, in phase i (-1 for none).
func (a *aggregate) add(iv *Interval, i int) {
	a.count++
	if i >= 0 {
		a.phaseCount[i]++
		iv.addTo(a.phases[i])
	}
	iv.addTo(a.total)
	if mid := iv.Start.Add(iv.End.Sub(iv.Start) / 2); mid.After(a.maxMid) {
		a.maxMid = mid
	}
}

// finish sets the spans rates are computed over: each phase's and the
// run's, whatever the intervals' (they may end a little after the last
// phase).
func (a *aggregate) finish(r *Run) {
	for i, p := range r.Phases {
		a.phases[i].Start, a.phases[i].End = p.Start, p.End
	}
	a.total.Start, a.total.End = r.Start, r.End
}

// aggregateOf reads every interval of r to aggregate them.
func (r *Run) aggregateOf() (*aggregate, error) {
	a := newAggregate(len(r.Phases))
	err := r.intervals(false, func(iv *Interval, phase int) error {
		a.add(iv, phase)
		return nil
	})
	if err != nil {
		return nil, err
	}
	a.finish(r)
	return a, nil
}

// settle keeps a, the aggregate of a first read that sorted intervals
// into unbounded phases, when that sorting is the run's own: it is as long
// as every interval's midpoint lies before the run's end, which clips the
// phases (true of every file faultline writes). Otherwise it reads the
// intervals again.
func (r *Run) settle(a *aggregate) error {
	if a.maxMid.Before(r.End) || a.count == 0 {
		a.finish(r)
		r.agg = a
		return nil
	}
	agg, err := r.aggregateOf()
	if err != nil {
		return err
	}
	r.agg = agg
	return nil
}

// unbounded is phases with the last one running on forever, as they are
// known before the end of the run is.
func unbounded(phases []Phase) []Phase {
	out := append([]Phase(nil), phases...)
	if n := len(out); n > 0 {
		out[n-1].End = time.Unix(0, math.MaxInt64)
	}
	return out
}

// streamReader buffers a file read once more.
func streamReader(open func() (io.ReadCloser, error)) (io.ReadCloser, *bufio.Reader, error) {
	f, err := open()
	if err != nil {
		return nil, nil, err
	}
	return f, bufio.NewReaderSize(f, 1<<16), nil
}

// openResults reads a results file of `faultline load` into a Run: one
// phase named "load" spanning the run, no faults, and the thresholds of the
// stored summary as checks.
func openResults(open func() (io.ReadCloser, error), name string) (*Run, error) {
	read := func(full bool, fn func(iv *Interval, start time.Time) error) (*results.File, error) {
		f, br, err := streamReader(open)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		codec := newCodec()
		return results.Stream(br, name, func(_ int, ij *results.Interval, start time.Time) error {
			iv, err := decodeInterval(codec, ij, start, full)
			if err != nil {
				return err
			}
			return fn(iv, start)
		})
	}
	var (
		first = newAggregate(1)
		guess *Run
		last  time.Time
	)
	res, err := read(false, func(iv *Interval, start time.Time) error {
		if guess == nil {
			// The header came before the intervals: the run's start is known.
			guess = &Run{Phases: unbounded([]Phase{{Name: LoadPhase, Start: start}})}
		}
		first.add(iv, guess.phaseAt(iv.Start, iv.End))
		last = iv.End
		return nil
	})
	if err != nil {
		return nil, err
	}
	var s Summary
	// A summary that does not decode leaves the run without checks; the
	// histograms, which are what the renderers draw, were already read.
	if json.Unmarshal(res.Summary, &s) != nil {
		s = Summary{}
	}
	run := loadRunOf(res.Model, res.StartedAt, res.EndedAt, last, &s)
	run.source = func(full bool, fn func(*Interval) error) error {
		_, err := read(full, func(iv *Interval, _ time.Time) error { return fn(iv) })
		return err
	}
	if err := run.settle(first); err != nil {
		return nil, err
	}
	return run, nil
}

// openJournal reads the journal of `faultline run` into a Run, as
// runFromJournal does, streaming its intervals and its links.
func openJournal(open func() (io.ReadCloser, error), name string) (*Run, error) {
	read := func(full bool, fn func(iv *Interval) error, link func(journal.Link), started func(*journal.Journal)) (*journal.Journal, error) {
		f, br, err := streamReader(open)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		codec := newCodec()
		var start time.Time
		return journal.Stream(br, name, func(_ string, ij *results.Interval) error {
			iv, err := decodeInterval(codec, ij, start, full)
			if err != nil {
				return err
			}
			return fn(iv)
		}, link, func(j *journal.Journal) {
			start = j.Plan.LoadStart
			if started != nil {
				started(j)
			}
		})
	}
	var (
		first *aggregate
		guess *Run
		last  time.Time
		links *linkSet
	)
	j, err := read(false, func(iv *Interval) error {
		first.add(iv, guess.phaseAt(iv.Start, iv.End))
		last = iv.End
		links.advance(last)
		return nil
	}, func(l journal.Link) { links.add(l) }, func(j *journal.Journal) {
		// The phases as planned, before the end of the run clips them.
		guess = runFromJournal(j, time.Unix(0, math.MaxInt64))
		first = newAggregate(len(guess.Phases))
		links = newLinkSet(guess.Phases, guess.Start)
	})
	if err != nil {
		return nil, err
	}
	run := runFromJournal(j, last)
	run.Links, run.links = links.probes(), links
	run.source = func(full bool, fn func(*Interval) error) error {
		_, err := read(full, fn, nil, nil)
		return err
	}
	if err := run.settle(first); err != nil {
		return nil, err
	}
	return run, nil
}

// maxLinkProbes bounds the probes of one link the link plot draws: four
// per interval, as many as maxPlotPoints intervals hold. Past it, the plot
// draws the slowest of each run of 2, 4, 8, ... consecutive probes.
const maxLinkProbes = 4 * maxPlotPoints

// linkSet gathers the timed link requests of a journal as they stream by:
// each link's figures per phase, exactly, and the probes its plot draws,
// bounded.
type linkSet struct {
	// phases are the phases as planned; end is the end of the last
	// interval read so far: a probe before it is in the phase that holds
	// it, whatever the end of the run (which clips the phases) turns out
	// to be. Later probes wait in pending.
	phases  []Phase
	start   time.Time
	end     time.Time
	pending []LinkProbe
	labels  []string
	stats   map[string][]linkAcc
	plotted map[string]*probeSeries
}

// linkAcc is one link's probes in one phase.
type linkAcc struct {
	probes, failed int64
	latency        *hdrhistogram.Histogram
}

// probeSeries is one link's probes as the plot draws them: every probe, or
// past maxLinkProbes the slowest of each run of per consecutive ones.
type probeSeries struct {
	probes []LinkProbe
	per, n int
}

func newLinkSet(phases []Phase, start time.Time) *linkSet {
	return &linkSet{phases: phases, start: start, stats: map[string][]linkAcc{}, plotted: map[string]*probeSeries{}}
}

func (s *linkSet) add(l journal.Link) {
	p := linkProbeOf(l, s.start)
	label := p.label()
	ps := s.plotted[label]
	if ps == nil {
		ps = &probeSeries{per: 1}
		s.plotted[label] = ps
		s.labels = append(s.labels, label)
		s.stats[label] = make([]linkAcc, len(s.phases))
	}
	ps.add(p)
	s.pending = append(s.pending, p)
	s.settle()
}

// advance moves the end of the intervals read to end.
func (s *linkSet) advance(end time.Time) {
	if end.After(s.end) {
		s.end = end
		s.settle()
	}
}

// settle counts the pending probes sent before the end so far.
func (s *linkSet) settle() {
	kept := s.pending[:0]
	for _, p := range s.pending {
		if !p.At.Before(s.end) {
			kept = append(kept, p)
			continue
		}
		for i, ph := range s.phases {
			if p.At.Before(ph.Start) || !p.At.Before(ph.End) {
				continue
			}
			acc := &s.stats[p.label()][i]
			if acc.latency == nil {
				acc.latency = loadgen.NewHistogram()
			}
			acc.probes++
			if p.Failed() {
				acc.failed++
			}
			_ = acc.latency.RecordValue(min(max(int64(p.Latency), loadgen.HistLowest), loadgen.HistHighest))
		}
	}
	s.pending = kept
}

func (ps *probeSeries) add(p LinkProbe) {
	if ps.n == 0 {
		ps.probes = append(ps.probes, p)
	} else if last := &ps.probes[len(ps.probes)-1]; p.Latency > last.Latency {
		*last = p
	}
	if ps.n++; ps.n < ps.per {
		return
	}
	ps.n = 0
	if len(ps.probes) < maxLinkProbes {
		return
	}
	half := ps.probes[:0]
	for i := 0; i < len(ps.probes); i += 2 {
		p := ps.probes[i]
		if i+1 < len(ps.probes) && ps.probes[i+1].Latency > p.Latency {
			p = ps.probes[i+1]
		}
		half = append(half, p)
	}
	ps.probes = half
	ps.per *= 2
}

// probes are the probes the plot draws, link by link in the order they
// were first probed.
func (s *linkSet) probes() []LinkProbe {
	var out []LinkProbe
	for _, l := range s.labels {
		out = append(out, s.plotted[l].probes...)
	}
	return out
}

// linkStats are the figures of every link in every phase of r, as
// Run.linkStats computes them from every probe.
func (s *linkSet) linkStats(r *Run) []linkStat {
	var out []linkStat
	for _, l := range s.labels {
		for i, ph := range r.Phases {
			acc := s.stats[l][i]
			if acc.probes == 0 {
				continue // the phase did not run (an abort, a failed steady state)
			}
			edge := SummarizeHistogram(r.PhaseStats(i).Latency(""))
			out = append(out, linkStat{Label: l, Phase: ph.Name, Probes: acc.probes, Failed: acc.failed,
				Latency: SummarizeHistogram(acc.latency), EdgeP99: edge.P99, EdgeCount: edge.Count})
		}
	}
	return out
}
