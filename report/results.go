package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report/output"
)

// ResultsSchema and ResultsVersion identify faultline's results file
// (docs/results-format.md). A reader refuses a newer version.
const (
	ResultsSchema  = "faultline/results"
	ResultsVersion = 2
)

// ResultsVersions lists what each results version added; a reader reads
// every version up to ResultsVersion.
//
//	1  intervals, series with status and error counts, summary
//	2  failures: a few failing responses per interval and request name

// HistogramInfo documents, inside the file, how histograms are stored.
type HistogramInfo struct {
	Unit              string `json:"unit"`
	Lowest            int64  `json:"lowest"`
	Highest           int64  `json:"highest"`
	SignificantDigits int    `json:"significant_digits"`
	Encoding          string `json:"encoding"`
}

// RunInfo is what a results file says about the run before its intervals.
type RunInfo struct {
	Schema     string          `json:"schema"`
	Version    int             `json:"version"`
	Tool       string          `json:"tool"`
	Model      loadgen.Model   `json:"model"`
	StartedAt  time.Time       `json:"started_at"`
	Planned    float64         `json:"planned_seconds"`
	TargetRate float64         `json:"target_rate,omitempty"`
	Histograms HistogramInfo   `json:"histograms"`
	Options    json.RawMessage `json:"options,omitempty"`
}

// NewRunInfo fills the fixed fields of a results file's header.
func NewRunInfo(tool string, model loadgen.Model, started time.Time, planned time.Duration, targetRate float64, options any) (RunInfo, error) {
	ri := RunInfo{
		Schema: ResultsSchema, Version: ResultsVersion, Tool: tool, Model: model,
		StartedAt: started.UTC(), Planned: planned.Seconds(), TargetRate: targetRate,
		Histograms: HistogramInfo{
			Unit: "ns", Lowest: loadgen.HistLowest, Highest: loadgen.HistHighest,
			SignificantDigits: loadgen.HistSigFigs,
			Encoding:          "HdrHistogram V2 compressed (zlib), base64",
		},
	}
	if options != nil {
		raw, err := json.Marshal(options)
		if err != nil {
			return ri, fmt.Errorf("encode options: %w", err)
		}
		ri.Options = raw
	}
	return ri, nil
}

// intervalJSON is one interval as stored.
type intervalJSON struct {
	StartMs    float64      `json:"start_ms"`
	EndMs      float64      `json:"end_ms"`
	Scheduled  int64        `json:"scheduled"`
	Dropped    int64        `json:"dropped"`
	Unfinished int64        `json:"unfinished"`
	SendLag    string       `json:"send_lag"`
	Series     []seriesJSON `json:"series"`
	// Failures appeared in results version 2 and journal version 2.
	Failures []FailureJSON `json:"failures,omitempty"`
}

// FailureJSON is one failure sample as stored (results, journal) and
// reported (JSON report): a status, or the class of a transport error, and
// the first bytes of the body (or the error's message).
type FailureJSON struct {
	Name      string `json:"name"`
	Status    int    `json:"status,omitempty"`
	Error     string `json:"error,omitempty"`
	Body      string `json:"body"`
	Truncated bool   `json:"truncated,omitempty"`
}

type seriesJSON struct {
	Name     string           `json:"name"`
	Outcome  loadgen.Outcome  `json:"outcome"`
	Count    int64            `json:"count"`
	Latency  string           `json:"latency"`
	Service  string           `json:"service"`
	Status   map[string]int64 `json:"status,omitempty"`
	Errors   map[string]int64 `json:"errors,omitempty"`
	BytesIn  int64            `json:"bytes_in"`
	BytesOut int64            `json:"bytes_out"`
}

func encodeHist(h *hdrhistogram.Histogram) (string, error) {
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func toIntervalJSON(iv *loadgen.Stats, start time.Time) (*intervalJSON, error) {
	out := &intervalJSON{
		StartMs:   ms(iv.Start.Sub(start)),
		EndMs:     ms(iv.End.Sub(start)),
		Scheduled: iv.Scheduled, Dropped: iv.Dropped, Unfinished: iv.Unfinished,
		Series: []seriesJSON{},
	}
	var err error
	if out.SendLag, err = encodeHist(iv.SendLag); err != nil {
		return nil, err
	}
	for _, s := range iv.Series {
		sj := seriesJSON{Name: s.Name, Outcome: s.Outcome, Count: s.Count(), BytesIn: s.BytesIn, BytesOut: s.BytesOut}
		if sj.Latency, err = encodeHist(s.Latency); err != nil {
			return nil, err
		}
		if sj.Service, err = encodeHist(s.Service); err != nil {
			return nil, err
		}
		if len(s.Status) > 0 {
			sj.Status = map[string]int64{}
			for code, n := range s.Status {
				sj.Status[strconv.Itoa(code)] = n
			}
		}
		if len(s.Errors) > 0 {
			sj.Errors = map[string]int64{}
			for class, n := range s.Errors {
				sj.Errors[string(class)] = n
			}
		}
		out.Series = append(out.Series, sj)
	}
	out.Failures = failuresJSON(iv.Failures)
	return out, nil
}

func (f FailureJSON) sample() loadgen.FailureSample {
	return loadgen.FailureSample{Name: f.Name, Status: f.Status, Error: loadgen.ErrorClass(f.Error), Body: f.Body, Truncated: f.Truncated}
}

func failuresJSON(fs []loadgen.FailureSample) []FailureJSON {
	var out []FailureJSON
	for _, f := range fs {
		out = append(out, FailureJSON{Name: f.Name, Status: f.Status, Error: string(f.Error), Body: f.Body, Truncated: f.Truncated})
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// ResultsWriter streams a results file: the header first, then each interval
// as it ends, then the summary. It writes to a temporary file beside the
// destination and renames it into place on Close, so the destination is
// either complete or absent, and memory does not grow with the run.
type ResultsWriter struct {
	path    string
	out     *output.File
	start   time.Time
	count   int
	err     error
	encoder *json.Encoder
}

// CreateResults starts writing a results file at path, as an output.File (a
// regular file appears whole at Close; a device or pipe is written as the
// intervals come).
func CreateResults(path string, info RunInfo) (*ResultsWriter, error) {
	out, err := output.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create results file: %w", err)
	}
	w := &ResultsWriter{path: path, out: out, start: info.StartedAt, encoder: json.NewEncoder(out)}
	head, err := json.Marshal(info)
	if err != nil {
		w.Abort()
		return nil, fmt.Errorf("encode results header: %w", err)
	}
	// The header object is left open so intervals and the summary follow
	// as further members of the same JSON object.
	head = bytes.TrimSuffix(head, []byte("}"))
	if _, err := fmt.Fprintf(out, "%s,\n\"intervals\": [\n", head); err != nil {
		w.Abort()
		return nil, fmt.Errorf("write results file: %w", err)
	}
	return w, nil
}

// WriteInterval appends one interval. Errors are kept and returned by Close.
func (w *ResultsWriter) WriteInterval(iv *loadgen.Stats) {
	if w.err != nil {
		return
	}
	ij, err := toIntervalJSON(iv, w.start)
	if err != nil {
		w.err = fmt.Errorf("encode interval: %w", err)
		return
	}
	if w.count > 0 {
		if _, err := w.out.WriteString(","); err != nil {
			w.err = err
			return
		}
	}
	w.count++
	if err := w.encoder.Encode(ij); err != nil {
		w.err = fmt.Errorf("write results file: %w", err)
	}
}

// Close writes the summary, syncs the file and moves it into place. On any
// error nothing is left at the destination.
func (w *ResultsWriter) Close(endedAt time.Time, summary any) error {
	if w.err != nil {
		w.Abort()
		return w.err
	}
	tail := struct {
		EndedAt time.Time `json:"ended_at"`
		Summary any       `json:"summary"`
	}{endedAt.UTC(), summary}
	b, err := json.Marshal(tail)
	if err == nil {
		_, err = fmt.Fprintf(w.out, "],\n%s\n", bytes.TrimPrefix(b, []byte("{")))
	}
	if err != nil {
		w.out.Abort()
		return fmt.Errorf("write results file %s: %w", w.path, err)
	}
	if err := w.out.Commit(); err != nil {
		return fmt.Errorf("write results file %s: %w", w.path, err)
	}
	return nil
}

// Abort discards the partial file.
func (w *ResultsWriter) Abort() { w.out.Abort() }

// Results is a results file read back.
type Results struct {
	RunInfo
	EndedAt   time.Time
	Intervals []*loadgen.Stats
	Summary   json.RawMessage
}

// Total merges every interval.
func (r *Results) Total() *loadgen.Stats {
	t := loadgen.NewStats(r.StartedAt, r.StartedAt)
	for _, iv := range r.Intervals {
		t.Merge(iv)
	}
	return t
}

// ErrNotResults is returned for a file that is not a faultline results file.
var ErrNotResults = errors.New("not a faultline results file")

// ReadResults reads a results file; name is used in errors.
func ReadResults(r io.Reader, name string) (*Results, error) {
	var raw struct {
		RunInfo
		EndedAt   time.Time         `json:"ended_at"`
		Intervals []json.RawMessage `json:"intervals"`
		Summary   json.RawMessage   `json:"summary"`
	}
	dec := json.NewDecoder(r)
	if err := dec.Decode(&raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%s: malformed JSON at byte %d: %w", name, se.Offset, err)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: truncated: the JSON ends early", name)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if raw.Schema != ResultsSchema {
		return nil, fmt.Errorf("%s: %w (schema %q, want %q)", name, ErrNotResults, raw.Schema, ResultsSchema)
	}
	if raw.Version > ResultsVersion || raw.Version < 1 {
		return nil, fmt.Errorf("%s: results version %d is not supported (this faultline reads version %d)", name, raw.Version, ResultsVersion)
	}
	if raw.Summary == nil {
		return nil, fmt.Errorf("%s: no summary: the file is incomplete", name)
	}
	res := &Results{RunInfo: raw.RunInfo, EndedAt: raw.EndedAt, Summary: raw.Summary}
	for i, rawIv := range raw.Intervals {
		var ij intervalJSON
		if err := json.Unmarshal(rawIv, &ij); err != nil {
			return nil, fmt.Errorf("%s: interval %d: %w", name, i, err)
		}
		iv, err := fromIntervalJSON(&ij, raw.StartedAt)
		if err != nil {
			return nil, fmt.Errorf("%s: interval %d: %w", name, i, err)
		}
		res.Intervals = append(res.Intervals, iv)
	}
	return res, nil
}

func decodeHist(s string) (*hdrhistogram.Histogram, error) {
	h, err := hdrhistogram.Decode([]byte(s))
	if err != nil {
		return nil, err
	}
	// A histogram already in the engine's geometry (every file faultline
	// writes) is used as it is: a copy would double the allocations, and a
	// freed dense histogram's memory must be zeroed again when it is reused,
	// which makes all of it resident, where fresh memory is resident only
	// where values were recorded.
	if h.LowestTrackableValue() == loadgen.HistLowest && h.HighestTrackableValue() == loadgen.HistHighest && h.SignificantFigures() == loadgen.HistSigFigs {
		return h, nil
	}
	// Re-home the samples in the engine's geometry so histograms from any
	// file merge exactly with each other.
	out := loadgen.NewHistogram()
	if dropped := out.Merge(h); dropped > 0 {
		return nil, fmt.Errorf("histogram holds %d values outside 1ns..1h", dropped)
	}
	return out, nil
}

func fromIntervalJSON(ij *intervalJSON, start time.Time) (*loadgen.Stats, error) {
	at := func(msOff float64) time.Time { return start.Add(time.Duration(msOff * float64(time.Millisecond))) }
	iv := loadgen.NewStats(at(ij.StartMs), at(ij.EndMs))
	iv.Scheduled, iv.Dropped, iv.Unfinished = ij.Scheduled, ij.Dropped, ij.Unfinished
	var err error
	if ij.SendLag != "" {
		if iv.SendLag, err = decodeHist(ij.SendLag); err != nil {
			return nil, fmt.Errorf("send_lag: %w", err)
		}
	}
	for _, sj := range ij.Series {
		s := &loadgen.Series{Name: sj.Name, Outcome: sj.Outcome, Status: map[int]int64{}, Errors: map[loadgen.ErrorClass]int64{}, BytesIn: sj.BytesIn, BytesOut: sj.BytesOut}
		if s.Latency, err = decodeHist(sj.Latency); err != nil {
			return nil, fmt.Errorf("series %q latency: %w", sj.Name, err)
		}
		if s.Service, err = decodeHist(sj.Service); err != nil {
			return nil, fmt.Errorf("series %q service: %w", sj.Name, err)
		}
		for code, n := range sj.Status {
			c, err := strconv.Atoi(code)
			if err != nil {
				return nil, fmt.Errorf("series %q: status %q is not a number", sj.Name, code)
			}
			s.Status[c] = n
		}
		for class, n := range sj.Errors {
			s.Errors[loadgen.ErrorClass(class)] = n
		}
		iv.Series = append(iv.Series, s)
	}
	for _, f := range ij.Failures {
		iv.AddFailure(f.sample())
	}
	sort.Slice(iv.Series, func(i, j int) bool {
		a, b := iv.Series[i], iv.Series[j]
		return a.Name < b.Name || (a.Name == b.Name && a.Outcome < b.Outcome)
	})
	return iv, nil
}
