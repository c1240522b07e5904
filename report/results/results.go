// Package results reads and writes the results file of `faultline load`
// (docs/results-format.md): a header, one interval of HDR histograms per
// line as the run goes, and the summary. Its stored interval, failure
// sample and histogram description are shared with the journal of
// `faultline run` (package report/journal).
package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report/internal/hdr"
	"github.com/faultline-dev/faultline/report/output"
)

// Schema and Version identify faultline's results file
// (docs/results-format.md). A reader refuses a newer version.
const (
	Schema  = "faultline/results"
	Version = 2
)

// What each results version added; a reader reads every version up to
// Version.
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

// EngineHistograms describes the histograms the load engine records, as
// every file faultline writes stores them.
func EngineHistograms() HistogramInfo {
	return HistogramInfo{
		Unit: "ns", Lowest: loadgen.HistLowest, Highest: loadgen.HistHighest,
		SignificantDigits: loadgen.HistSigFigs,
		Encoding:          "HdrHistogram V2 compressed (zlib), base64",
	}
}

// Header is what a results file says about the run before its intervals.
type Header struct {
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

// NewHeader fills the fixed fields of a results file's header.
func NewHeader(tool string, model loadgen.Model, started time.Time, planned time.Duration, targetRate float64, options any) (Header, error) {
	ri := Header{
		Schema: Schema, Version: Version, Tool: tool, Model: model,
		StartedAt: started.UTC(), Planned: planned.Seconds(), TargetRate: targetRate,
		Histograms: EngineHistograms(),
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

// Interval is one interval as stored in a results file or a journal:
// offsets from the run's start and compressed histograms.
type Interval struct {
	StartMs    float64      `json:"start_ms"`
	EndMs      float64      `json:"end_ms"`
	Scheduled  int64        `json:"scheduled"`
	Dropped    int64        `json:"dropped"`
	Unfinished int64        `json:"unfinished"`
	SendLag    string       `json:"send_lag"`
	Series     []seriesJSON `json:"series"`
	// Failures appeared in results version 2 and journal version 2.
	Failures []Failure `json:"failures,omitempty"`
}

// Failure is one failure sample as stored (results, journal) and
// reported (JSON report): a status, or the class of a transport error, and
// the first bytes of the body (or the error's message).
type Failure struct {
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

// Counts are the series' responses by status code and failures by error
// class, as the engine counts them (both maps non-nil).
func (s seriesJSON) Counts() (map[int]int64, map[loadgen.ErrorClass]int64, error) {
	status, errs := make(map[int]int64, len(s.Status)), make(map[loadgen.ErrorClass]int64, len(s.Errors))
	for code, n := range s.Status {
		c, err := strconv.Atoi(code)
		if err != nil {
			return nil, nil, fmt.Errorf("series %q: status %q is not a number", s.Name, code)
		}
		status[c] = n
	}
	for class, n := range s.Errors {
		errs[loadgen.ErrorClass(class)] = n
	}
	return status, errs, nil
}

func encodeHist(h *hdrhistogram.Histogram) (string, error) {
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// An Encoder encodes intervals as stored, with one histogram codec whose
// deflater and buffers it keeps from one histogram and one interval to the
// next: hdrhistogram's Encode makes a new zlib writer (some 600 kB) for
// every histogram, garbage that the collector then runs beside the load to
// reclaim. It writes the same bytes. An Encoder is for one goroutine.
type Encoder struct {
	codec *hdr.Codec
}

// NewEncoder returns an Encoder.
func NewEncoder() *Encoder {
	g := hdr.GeometryFor(loadgen.HistLowest, loadgen.HistHighest, loadgen.HistSigFigs)
	return &Encoder{codec: hdr.NewCodec(g, loadgen.HistLowest, loadgen.HistHighest, loadgen.HistSigFigs)}
}

// hist is h's V2 compressed encoding: through the codec when h has the
// engine's geometry (every histogram the engine records), else through
// hdrhistogram.
func (e *Encoder) hist(h *hdrhistogram.Histogram) (string, error) {
	if h.LowestTrackableValue() != loadgen.HistLowest || h.HighestTrackableValue() != loadgen.HistHighest || h.SignificantFigures() != loadgen.HistSigFigs {
		return encodeHist(h)
	}
	s := hdr.SparseOf(h, e.codec.Geometry)
	return e.codec.Encode(&s)
}

// EncodeInterval is iv as stored, its times as offsets from start.
func EncodeInterval(iv *loadgen.Stats, start time.Time) (*Interval, error) {
	return NewEncoder().Interval(iv, start)
}

// Interval is iv as stored, its times as offsets from start. It lets the
// process's other goroutines run between histograms: on one CPU the load's
// event loop waits meanwhile, and each histogram is some hundreds of
// microseconds of work.
func (e *Encoder) Interval(iv *loadgen.Stats, start time.Time) (*Interval, error) {
	out := &Interval{
		StartMs:   ms(iv.Start.Sub(start)),
		EndMs:     ms(iv.End.Sub(start)),
		Scheduled: iv.Scheduled, Dropped: iv.Dropped, Unfinished: iv.Unfinished,
		Series: []seriesJSON{},
	}
	var err error
	if out.SendLag, err = e.hist(iv.SendLag); err != nil {
		return nil, err
	}
	for _, s := range iv.Series {
		sj := seriesJSON{Name: s.Name, Outcome: s.Outcome, Count: s.Count(), BytesIn: s.BytesIn, BytesOut: s.BytesOut}
		runtime.Gosched()
		if sj.Latency, err = e.hist(s.Latency); err != nil {
			return nil, err
		}
		runtime.Gosched()
		if sj.Service, err = e.hist(s.Service); err != nil {
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
	out.Failures = Failures(iv.Failures)
	return out, nil
}

// Sample is the failure sample f stores.
func (f Failure) Sample() loadgen.FailureSample {
	return loadgen.FailureSample{Name: f.Name, Status: f.Status, Error: loadgen.ErrorClass(f.Error), Body: f.Body, Truncated: f.Truncated}
}

// Failures are the samples fs as stored.
func Failures(fs []loadgen.FailureSample) []Failure {
	var out []Failure
	for _, f := range fs {
		out = append(out, Failure{Name: f.Name, Status: f.Status, Error: string(f.Error), Body: f.Body, Truncated: f.Truncated})
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Writer streams a results file: the header first, then each interval
// as it ends, then the summary. It writes to a temporary file beside the
// destination and renames it into place on Close, so the destination is
// either complete or absent, and memory does not grow with the run.
type Writer struct {
	path    string
	out     *output.File
	start   time.Time
	count   int
	err     error
	encoder *json.Encoder
	hists   *Encoder
}

// Create starts writing a results file at path, as an output.File (a
// regular file appears whole at Close; a device or pipe is written as the
// intervals come).
func Create(path string, info Header) (*Writer, error) {
	out, err := output.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create results file: %w", err)
	}
	w := &Writer{path: path, out: out, start: info.StartedAt, encoder: json.NewEncoder(out), hists: NewEncoder()}
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
func (w *Writer) WriteInterval(iv *loadgen.Stats) {
	if w.err != nil {
		return
	}
	ij, err := w.hists.Interval(iv, w.start)
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
func (w *Writer) Close(endedAt time.Time, summary any) error {
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
func (w *Writer) Abort() { w.out.Abort() }

// File is a results file read back.
type File struct {
	Header
	EndedAt   time.Time
	Intervals []*loadgen.Stats
	Summary   json.RawMessage
}

// Total merges every interval.
func (r *File) Total() *loadgen.Stats {
	t := loadgen.NewStats(r.StartedAt, r.StartedAt)
	for _, iv := range r.Intervals {
		t.Merge(iv)
	}
	return t
}

// errNotResults is wrapped in the error for a file that is not a faultline results file.
var errNotResults = errors.New("not a faultline results file")

// Read reads a results file; name is used in errors.
func Read(r io.Reader, name string) (*File, error) {
	var ivs []*loadgen.Stats
	res, err := Stream(r, name, func(i int, ij *Interval, start time.Time) error {
		iv, err := DecodeInterval(ij, start)
		if err != nil {
			return err
		}
		ivs = append(ivs, iv)
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Intervals = ivs
	return res, nil
}

// Stream reads a results file one interval at a time, handing each to fn
// (with its index and the run's start, which its offsets count from) as
// it is read, so that memory does not grow with the run: the File it
// returns has no Intervals. An error from fn is returned as the
// interval's.
func Stream(r io.Reader, name string, fn func(i int, ij *Interval, start time.Time) error) (*File, error) {
	dec := json.NewDecoder(r)
	members := map[string]json.RawMessage{}
	var head *File
	if err := expectDelim(dec, '{'); err != nil {
		return nil, readError(err, name)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, readError(err, name)
		}
		key, _ := tok.(string)
		if key != "intervals" {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, readError(err, name)
			}
			members[key] = raw
			continue
		}
		if head, err = headerOf(members, name, false); err != nil {
			return nil, err
		}
		if err := streamIntervals(dec, name, head.StartedAt, fn); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, readError(err, name)
	}
	return headerOf(members, name, true)
}

// streamIntervals reads the members of the "intervals" array.
func streamIntervals(dec *json.Decoder, name string, start time.Time, fn func(int, *Interval, time.Time) error) error {
	tok, err := dec.Token()
	if err != nil {
		return readError(err, name)
	}
	if tok == nil {
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("%s: \"intervals\" is not an array", name)
	}
	for i := 0; dec.More(); i++ {
		var ij Interval
		if err := dec.Decode(&ij); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return fmt.Errorf("%s: interval %d: %w", name, i, err)
			}
			return readError(err, name)
		}
		if err := fn(i, &ij, start); err != nil {
			return fmt.Errorf("%s: interval %d: %w", name, i, err)
		}
	}
	_, err = dec.Token()
	return readError(err, name)
}

// headerOf checks the members read so far: the schema and version, and,
// once the whole file is read, the summary.
func headerOf(members map[string]json.RawMessage, name string, whole bool) (*File, error) {
	var raw struct {
		Header
		EndedAt time.Time       `json:"ended_at"`
		Summary json.RawMessage `json:"summary"`
	}
	b, err := json.Marshal(members)
	if err == nil {
		err = json.Unmarshal(b, &raw)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if raw.Schema != Schema {
		return nil, fmt.Errorf("%s: %w (schema %q, want %q)", name, errNotResults, raw.Schema, Schema)
	}
	if raw.Version > Version || raw.Version < 1 {
		return nil, fmt.Errorf("%s: results version %d is not supported (this faultline reads version %d)", name, raw.Version, Version)
	}
	if whole && raw.Summary == nil {
		return nil, fmt.Errorf("%s: no summary: the file is incomplete", name)
	}
	return &File{Header: raw.Header, EndedAt: raw.EndedAt, Summary: raw.Summary}, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return &json.SyntaxError{Offset: dec.InputOffset()}
	}
	return nil
}

// readError says what is wrong with a file that did not read as JSON.
func readError(err error, name string) error {
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%s: malformed JSON at byte %d: %w", name, se.Offset, err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: truncated: the JSON ends early", name)
	}
	return fmt.Errorf("%s: %w", name, err)
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

// DecodeInterval reads a stored interval back, its offsets counted from
// start, its histograms in the load engine's geometry.
func DecodeInterval(ij *Interval, start time.Time) (*loadgen.Stats, error) {
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
		s := &loadgen.Series{Name: sj.Name, Outcome: sj.Outcome, BytesIn: sj.BytesIn, BytesOut: sj.BytesOut}
		if s.Latency, err = decodeHist(sj.Latency); err != nil {
			return nil, fmt.Errorf("series %q latency: %w", sj.Name, err)
		}
		if s.Service, err = decodeHist(sj.Service); err != nil {
			return nil, fmt.Errorf("series %q service: %w", sj.Name, err)
		}
		if s.Status, s.Errors, err = sj.Counts(); err != nil {
			return nil, err
		}
		iv.Series = append(iv.Series, s)
	}
	for _, f := range ij.Failures {
		iv.AddFailure(f.Sample())
	}
	sort.Slice(iv.Series, func(i, j int) bool {
		a, b := iv.Series[i], iv.Series[j]
		return a.Name < b.Name || (a.Name == b.Name && a.Outcome < b.Outcome)
	})
	return iv, nil
}

// Open reads the results file at path.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f, path)
}
