// Package journal writes and reads the journal of `faultline run`
// (docs/experiments.md): JSON Lines, one record per event, each synced as
// the run goes, so that a crash leaves every line written before it.
package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report/results"
)

// Schema and Version identify the journal of `faultline run`
// (docs/experiments.md). A reader refuses a newer version.
const (
	Schema  = "faultline/journal"
	Version = 2
)

// What each journal version added; a reader reads every version up to
// Version.
//
//	1  start, interval, fault, check, note and end records
//	2  failure samples in intervals; "link" records (a proxy's link timed)

// Record is one line of the journal. The first record is the plan
// ("start"), the last says how the run ended ("end"); a journal without
// "end" is the record of a run that died.
type Record struct {
	Type string    `json:"type"` // start, interval, fault, check, link, note, end
	At   time.Time `json:"at"`

	Schema  string `json:"schema,omitempty"`
	Version int    `json:"version,omitempty"`
	Plan    *Plan  `json:"plan,omitempty"`

	Phase    string            `json:"phase,omitempty"`
	Interval *results.Interval `json:"interval,omitempty"`

	Fault *Fault `json:"fault,omitempty"`
	Check *Check `json:"check,omitempty"`
	Link  *Link  `json:"link,omitempty"`
	End   *End   `json:"end,omitempty"`

	Message string `json:"message,omitempty"`
}

// Plan is the experiment as planned.
type Plan struct {
	Name        string        `json:"name"`
	Description string        `json:"description,omitempty"`
	Tags        []string      `json:"tags,omitempty"`
	File        string        `json:"file"`
	Tool        string        `json:"tool"`
	Model       loadgen.Model `json:"model"`
	Seed        uint64        `json:"seed"`
	TimeScale   float64       `json:"time_scale"`
	// LoadStart is the start of the load: every *_ms field is an offset
	// from it.
	LoadStart  time.Time             `json:"load_start"`
	Histograms results.HistogramInfo `json:"histograms"`
	Phases     []Phase               `json:"phases"`
	Faults     []FaultPlan           `json:"faults"`
}

// Phase is one phase of the timeline.
type Phase struct {
	Name    string  `json:"name"`
	StartMs float64 `json:"start_ms"`
	EndMs   float64 `json:"end_ms"`
	Rate    float64 `json:"rate,omitempty"`
	Users   int     `json:"users,omitempty"`
}

// FaultPlan is one fault as planned.
type FaultPlan struct {
	Label    string  `json:"label"`
	Kind     string  `json:"kind"`
	Phase    string  `json:"phase"`
	Describe string  `json:"describe"`
	StartMs  float64 `json:"start_ms"`
	EndMs    float64 `json:"end_ms"`
}

// Fault is something that happened to a fault.
type Fault struct {
	Label string `json:"label"`
	Kind  string `json:"kind"`
	Event string `json:"event"` // injected, inject_failed, reverted, revert_failed, not_injected
	// AtMs is when it happened, in milliseconds after the start of the load.
	AtMs     float64 `json:"at_ms"`
	Describe string  `json:"describe,omitempty"`
	Note     string  `json:"note,omitempty"`
	Error    string  `json:"error,omitempty"`
}

// Check is one verdict: a probe, a hypothesis line, a threshold or
// an abort condition.
type Check struct {
	Kind       string   `json:"kind"` // steady_state_before, steady_state_after, hypothesis, threshold, abort
	Phase      string   `json:"phase,omitempty"`
	Name       string   `json:"name,omitempty"`
	Expression string   `json:"expression,omitempty"`
	Verdict    string   `json:"verdict"` // held, deviated, inconclusive, failed
	Measured   string   `json:"measured,omitempty"`
	Detail     string   `json:"detail,omitempty"`
	CILow      *float64 `json:"ci_low,omitempty"`
	CIHigh     *float64 `json:"ci_high,omitempty"`
}

// Link is one timed request through a proxy to its upstream: how
// the link the proxy stands on answered at that moment, whatever the
// traffic under test did (a cache may keep every request off the link).
type Link struct {
	Proxy string `json:"proxy"`
	Link  string `json:"link,omitempty"` // from->to, for a link of the bundled services
	// AtMs is when the request was sent, in milliseconds after the start
	// of the load; LatencyMs how long until its response had arrived whole
	// (or it failed).
	AtMs      float64 `json:"at_ms"`
	LatencyMs float64 `json:"latency_ms"`
	Status    int     `json:"status,omitempty"`
	Error     string  `json:"error,omitempty"`
}

// End says how the run ended.
type End struct {
	ExitCode int    `json:"exit_code"`
	Outcome  string `json:"outcome"`
	Message  string `json:"message,omitempty"`
}

// Writer appends records to a journal file, syncing each one. It
// is safe for concurrent use: the runner and the link timer both write.
type Writer struct {
	mu        sync.Mutex
	f         *os.File
	loadStart time.Time
	// encMu guards hists, the encoder of the intervals, kept from one
	// interval to the next.
	encMu sync.Mutex
	hists *results.Encoder
}

// Create creates (truncates) the journal at path.
func Create(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	return &Writer{f: f, hists: results.NewEncoder()}, nil
}

// Path is the journal's file.
func (w *Writer) Path() string { return w.f.Name() }

// Write appends one record. The plan record sets the clock that interval
// offsets are counted from.
func (w *Writer) Write(rec Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if rec.At.IsZero() {
		rec.At = time.Now()
	}
	if rec.Type == "start" {
		rec.Schema, rec.Version = Schema, Version
		if rec.Plan != nil {
			w.loadStart = rec.Plan.LoadStart
		}
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode journal record: %w", err)
	}
	if _, err := w.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	return w.f.Sync()
}

// WriteInterval appends one interval of the load, tagged with its phase.
func (w *Writer) WriteInterval(phase string, iv *loadgen.Stats) error {
	w.mu.Lock()
	loadStart := w.loadStart
	w.mu.Unlock()
	w.encMu.Lock()
	ij, err := w.hists.Interval(iv, loadStart)
	w.encMu.Unlock()
	if err != nil {
		return err
	}
	return w.Write(Record{Type: "interval", At: iv.End, Phase: phase, Interval: ij})
}

// Close closes the file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.f.Close()
}

// Journal is a journal read back.
type Journal struct {
	Plan           Plan
	Intervals      []*loadgen.Stats
	IntervalPhases []string // the phase of each interval
	Faults         []Fault
	FaultTimes     []time.Time
	Checks         []Check
	Links          []Link
	Notes          []string
	// End is nil for the journal of a run that died before it ended.
	End *End
}

// Read reads a journal; name is used in errors. A last line cut
// short (the run died while writing it) is ignored.
func Read(r io.Reader, name string) (*Journal, error) {
	var j *Journal
	var links []Link
	var err error
	j, err = Stream(r, name, func(phase string, ij *results.Interval) error {
		iv, err := results.DecodeInterval(ij, j.Plan.LoadStart)
		if err != nil {
			return err
		}
		j.Intervals = append(j.Intervals, iv)
		j.IntervalPhases = append(j.IntervalPhases, phase)
		return nil
	}, func(l Link) { links = append(links, l) }, func(plan *Journal) { j = plan })
	if err != nil {
		return nil, err
	}
	j.Links = links
	return j, nil
}

// Stream reads a journal one record at a time, so that memory does not
// grow with the run: it calls started with the journal as soon as its plan
// is read, fn with each interval (its offsets count from the plan's
// LoadStart) and link with each timed link request, and returns the
// journal without Intervals and Links. A last line cut short (the run died
// while writing it) is ignored; an error from fn is returned as the line's.
func Stream(r io.Reader, name string, fn func(phase string, ij *results.Interval) error, link func(Link), started func(*Journal)) (*Journal, error) {
	br := bufio.NewReader(r)
	j := &Journal{}
	begun := false
	for line := 1; ; line++ {
		raw, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(raw)) == 0 {
			if err != nil {
				break
			}
			continue
		}
		var rec Record
		if uerr := json.Unmarshal(raw, &rec); uerr != nil {
			if err == io.EOF {
				break // a torn last line: the run died while writing it
			}
			return nil, fmt.Errorf("%s:%d: not a journal record: %v", name, line, uerr)
		}
		if !begun {
			if err := startOf(j, &rec, name, line); err != nil {
				return nil, err
			}
			begun = true
			if started != nil {
				started(j)
			}
			continue
		}
		if err := j.add(&rec, name, line, fn, link); err != nil {
			return nil, err
		}
		if err != nil {
			break
		}
	}
	if !begun {
		return nil, fmt.Errorf("%s: empty: not a faultline journal", name)
	}
	return j, nil
}

// startOf checks the first record and takes the plan from it.
func startOf(j *Journal, rec *Record, name string, line int) error {
	if rec.Type != "start" || rec.Schema != Schema {
		return fmt.Errorf("%s: not a faultline journal (first record %q, schema %q)", name, rec.Type, rec.Schema)
	}
	if rec.Version > Version || rec.Version < 1 {
		return fmt.Errorf("%s: journal version %d is not supported (this faultline reads version %d)", name, rec.Version, Version)
	}
	if rec.Plan == nil {
		return fmt.Errorf("%s:%d: the start record has no plan", name, line)
	}
	j.Plan = *rec.Plan
	return nil
}

// add takes one record after the plan.
func (j *Journal) add(rec *Record, name string, line int, fn func(string, *results.Interval) error, link func(Link)) error {
	switch rec.Type {
	case "interval":
		if rec.Interval == nil {
			return fmt.Errorf("%s:%d: interval record without interval", name, line)
		}
		if err := fn(rec.Phase, rec.Interval); err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
	case "fault":
		if rec.Fault != nil {
			j.Faults = append(j.Faults, *rec.Fault)
			j.FaultTimes = append(j.FaultTimes, rec.At)
		}
	case "check":
		if rec.Check != nil {
			j.Checks = append(j.Checks, *rec.Check)
		}
	case "link":
		if rec.Link != nil && link != nil {
			link(*rec.Link)
		}
	case "note":
		j.Notes = append(j.Notes, rec.Message)
	case "end":
		j.End = rec.End
	}
	return nil
}
