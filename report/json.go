package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report/results"
)

func init() {
	RegisterFormat(Format{Name: "json", Extension: ".json", Render: writeJSON,
		Description: "per-interval and per-phase statistics as JSON (schema faultline/report, docs/reports.md)"})
}

// ReportSchema and ReportVersion identify the JSON statistics written by
// writeJSON. The version changes when a field changes meaning or goes away;
// new fields may be added within a version.
const (
	ReportSchema  = "faultline/report"
	ReportVersion = 1
)

// StatJSON is the statistics of one request name (or "*" for every
// request) over a span. Latency figures are in milliseconds.
type StatJSON struct {
	Request   string      `json:"request"`
	Count     int64       `json:"count"`
	Failed    int64       `json:"failed"`
	ErrorRate float64     `json:"error_rate"`
	Rate      float64     `json:"rate"`
	Latency   Percentiles `json:"latency"`
	// Status counts responses by HTTP status code; Errors counts requests
	// that got no response, by error class.
	Status map[string]int64 `json:"status,omitempty"`
	Errors map[string]int64 `json:"errors,omitempty"`
}

// SpanJSON is an interval or a phase: when it was, and its statistics for
// every request together ("all") and per request name.
type SpanJSON struct {
	Name       string     `json:"name,omitempty"`
	Phase      string     `json:"phase,omitempty"`
	Start      time.Time  `json:"start"`
	End        time.Time  `json:"end"`
	StartS     float64    `json:"start_s"`
	EndS       float64    `json:"end_s"`
	Scheduled  int64      `json:"scheduled"`
	Dropped    int64      `json:"dropped"`
	Unfinished int64      `json:"unfinished"`
	All        StatJSON   `json:"all"`
	Requests   []StatJSON `json:"requests"`
	// Failures are a few failing responses (loadgen.FailureSamplesPerName
	// per request name at most) with the start of their bodies.
	Failures []results.Failure `json:"failures,omitempty"`
	// Links (phases only) are faultline's timed requests through each
	// proxy over the phase.
	Links []LinkJSON `json:"links,omitempty"`
}

// LinkJSON is one proxy's timed requests over a phase; latency in ms.
type LinkJSON struct {
	Link    string      `json:"link"`
	Probes  int64       `json:"probes"`
	Failed  int64       `json:"failed"`
	Latency Percentiles `json:"latency"`
}

// FaultJSON is a fault window; Reverted is absent for a fault that was
// never reverted.
type FaultJSON struct {
	Name     string     `json:"name"`
	Kind     string     `json:"kind"`
	Target   string     `json:"target"`
	Injected time.Time  `json:"injected"`
	Reverted *time.Time `json:"reverted,omitempty"`
}

// CheckJSON is a check and its verdict.
type CheckJSON struct {
	Phase      string `json:"phase,omitempty"`
	Expression string `json:"expression"`
	Verdict    string `json:"verdict"`
	Measured   string `json:"measured,omitempty"`
	Detail     string `json:"detail,omitempty"`
}

// ReportJSON is the document writeJSON writes.
type ReportJSON struct {
	Schema      string        `json:"schema"`
	Version     int           `json:"version"`
	Title       string        `json:"title"`
	Model       loadgen.Model `json:"model"`
	LatencyFrom string        `json:"latency_measured_from"`
	Start       time.Time     `json:"start"`
	End         time.Time     `json:"end"`
	Total       SpanJSON      `json:"total"`
	Phases      []SpanJSON    `json:"phases"`
	Faults      []FaultJSON   `json:"faults"`
	Checks      []CheckJSON   `json:"checks"`
	Intervals   []SpanJSON    `json:"intervals"`
}

// statSource is what a StatJSON reads: a merged *loadgen.Stats or one
// *Interval.
type statSource interface {
	statusSource
	Completed(name string) int64
	Failed(name string) int64
	ErrorRate(name string) float64
	Rate(name string) float64
}

func statJSON(s statSource, name string, latency Percentiles) StatJSON {
	label := name
	if name == "" {
		label = "*"
	}
	sj := StatJSON{Request: label, Count: s.Completed(name), Failed: s.Failed(name), ErrorRate: s.ErrorRate(name),
		Rate: s.Rate(name), Latency: latency}
	for code, n := range s.StatusCounts(name) {
		if sj.Status == nil {
			sj.Status = map[string]int64{}
		}
		sj.Status[strconv.Itoa(code)] = n
	}
	for class, n := range s.ErrorsByClass(name) {
		if n > 0 {
			if sj.Errors == nil {
				sj.Errors = map[string]int64{}
			}
			sj.Errors[string(class)] = n
		}
	}
	return sj
}

func (r *Run) spanJSON(s *loadgen.Stats) SpanJSON {
	sp := SpanJSON{
		Start: s.Start.UTC(), End: s.End.UTC(), StartS: roundMs(r.offset(s.Start)), EndS: roundMs(r.offset(s.End)),
		Scheduled: s.Scheduled, Dropped: s.Dropped, Unfinished: s.Unfinished,
		All: statJSON(s, "", SummarizeHistogram(s.Latency(""))), Requests: []StatJSON{},
	}
	for _, n := range s.Names() {
		sp.Requests = append(sp.Requests, statJSON(s, n, SummarizeHistogram(s.Latency(n))))
	}
	sp.Failures = results.Failures(phaseFailures(s))
	return sp
}

// intervalJSON is spanJSON of one interval of phase i (-1 for none).
func (r *Run) intervalJSON(iv *Interval, i int) SpanJSON {
	sp := SpanJSON{
		Start: iv.Start.UTC(), End: iv.End.UTC(), StartS: roundMs(r.offset(iv.Start)), EndS: roundMs(r.offset(iv.End)),
		Scheduled: iv.Scheduled, Dropped: iv.Dropped, Unfinished: iv.Unfinished,
		All: statJSON(iv, "", summarizeSparse(iv.Latency(""))), Requests: []StatJSON{},
	}
	for _, n := range iv.Names() {
		sp.Requests = append(sp.Requests, statJSON(iv, n, summarizeSparse(iv.Latency(n))))
	}
	sp.Failures = results.Failures(sortedFailures(iv.Failures))
	if i >= 0 {
		sp.Phase = r.Phases[i].Name
	}
	return sp
}

func roundMs(secs float64) float64 { return float64(int64(secs*1000+0.5)) / 1000 }

// buildReportJSON computes the document writeJSON writes, but for its
// intervals, which writeJSON streams.
func buildReportJSON(r *Run) *ReportJSON {
	doc := &ReportJSON{
		Schema: ReportSchema, Version: ReportVersion, Title: r.Title, Model: r.Model, LatencyFrom: r.latencyFrom(),
		Start: r.Start.UTC(), End: r.End.UTC(), Total: r.spanJSON(r.Total()),
		Phases: []SpanJSON{}, Faults: []FaultJSON{}, Checks: []CheckJSON{}, Intervals: []SpanJSON{},
	}
	for i, p := range r.Phases {
		sp := r.spanJSON(r.PhaseStats(i))
		sp.Name = p.Name
		doc.Phases = append(doc.Phases, sp)
	}
	for _, ls := range r.linkStats() {
		for i := range doc.Phases {
			if doc.Phases[i].Name == ls.Phase {
				doc.Phases[i].Links = append(doc.Phases[i].Links, LinkJSON{Link: ls.Label, Probes: ls.Probes, Failed: ls.Failed, Latency: ls.Latency})
			}
		}
	}
	for _, f := range r.Faults {
		fj := FaultJSON{Name: f.Name, Kind: f.Kind, Target: f.Target, Injected: f.Injected.UTC()}
		if !f.Reverted.IsZero() {
			t := f.Reverted.UTC()
			fj.Reverted = &t
		}
		doc.Faults = append(doc.Faults, fj)
	}
	for _, c := range r.Checks {
		doc.Checks = append(doc.Checks, CheckJSON(c))
	}
	return doc
}

// writeJSON writes the run's statistics, per interval and per phase, as an
// indented JSON document (schema faultline/report): the document but for
// its intervals first, then the intervals one at a time as they are read,
// laid out as encoding/json indents them.
func writeJSON(w io.Writer, r *Run, _ Options) error {
	var head bytes.Buffer
	enc := json.NewEncoder(&head)
	enc.SetIndent("", "  ")
	if err := enc.Encode(buildReportJSON(r)); err != nil {
		return err
	}
	const empty = "[]\n}\n"
	b := head.Bytes()
	if !bytes.HasSuffix(b, []byte(`"intervals": `+empty)) {
		return errors.New("json report: the intervals are not the document's last member")
	}
	bw := bufio.NewWriter(w)
	bw.Write(b[:len(b)-len(empty)])
	n := 0
	err := r.intervals(false, func(iv *Interval, i int) error {
		data, err := json.MarshalIndent(r.intervalJSON(iv, i), "    ", "  ")
		if err != nil {
			return err
		}
		if n == 0 {
			bw.WriteString("[\n    ")
		} else {
			bw.WriteString(",\n    ")
		}
		n++
		_, err = bw.Write(data)
		return err
	})
	if err != nil {
		return err
	}
	if n == 0 {
		bw.WriteString(empty)
	} else {
		bw.WriteString("\n  ]\n}\n")
	}
	return bw.Flush()
}
