package loadgen

import (
	"math"
	"runtime"
	"sort"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Outcome splits a request name's samples into those that succeeded and
// those that failed.
type Outcome string

// A request is OK when it got an HTTP response with a status below 400;
// anything else (a 4xx or 5xx status, a transport error) is an Error.
const (
	OK    Outcome = "ok"
	Error Outcome = "error"
)

// ErrorClass names the kind of transport failure of a request that got no
// HTTP response.
type ErrorClass string

// The transport error classes.
const (
	ErrTimeout ErrorClass = "timeout" // no response within --timeout
	ErrRefused ErrorClass = "refused" // connection refused
	ErrReset   ErrorClass = "reset"   // connection reset or closed mid-request
	ErrTLS     ErrorClass = "tls"     // handshake or certificate failure
	ErrOther   ErrorClass = "other"   // anything else (DNS, protocol, ...)
)

// ErrorClasses lists every class in the order reports print them.
var ErrorClasses = []ErrorClass{ErrTimeout, ErrRefused, ErrReset, ErrTLS, ErrOther}

// Series is what was recorded for one request name and outcome.
type Series struct {
	Name    string
	Outcome Outcome
	// Latency is measured from each request's intended start in the open
	// model and from its actual send in the closed model (where it equals
	// Service).
	Latency *hdrhistogram.Histogram
	// Service is measured from the moment the request was handed to the
	// connection (including connecting, when a new connection was needed).
	Service  *hdrhistogram.Histogram
	Status   map[int]int64        // responses by HTTP status code
	Errors   map[ErrorClass]int64 // transport failures by class
	BytesIn  int64                // response bytes read (status line, headers, body)
	BytesOut int64                // request bytes written
}

// Count is the number of requests that completed (with a response or an
// error) in this series.
func (s *Series) Count() int64 { return s.Latency.TotalCount() }

func newSeries(name string, outcome Outcome) *Series {
	return &Series{
		Name: name, Outcome: outcome,
		Latency: NewHistogram(), Service: NewHistogram(),
		Status: map[int]int64{}, Errors: map[ErrorClass]int64{},
	}
}

func (s *Series) merge(o *Series) {
	s.Latency.Merge(o.Latency)
	s.Service.Merge(o.Service)
	for code, n := range o.Status {
		s.Status[code] += n
	}
	for class, n := range o.Errors {
		s.Errors[class] += n
	}
	s.BytesIn += o.BytesIn
	s.BytesOut += o.BytesOut
}

// Stats is what the engine measured over a span of time: one interval, or
// the whole run. Intervals of the same run merge exactly into the whole.
type Stats struct {
	Start, End time.Time
	// Series holds one entry per request name and outcome that saw at least
	// one completed request, sorted by name then outcome.
	Series []*Series
	// SendLag is, in the open model, how late each request was sent compared
	// with its intended start (waiting for a free connection included). It
	// is empty in the closed model.
	SendLag *hdrhistogram.Histogram
	// Scheduled counts requests whose intended start fell in the span (open
	// model) or that were started (closed model).
	Scheduled int64
	// Dropped counts scheduled requests that were not sent because
	// --max-in-flight requests were already waiting or in flight.
	Dropped int64
	// Unfinished counts requests that were scheduled but neither completed
	// nor dropped because the run was stopped (Ctrl-C, or the grace period
	// after the end ran out).
	Unfinished int64
	// Failures holds a few failing requests as they were answered, at most
	// FailureSamplesPerName per request name (see AddFailure).
	Failures []FailureSample
}

// NewStats returns empty stats for the span [start, end).
func NewStats(start, end time.Time) *Stats {
	return &Stats{Start: start, End: end, SendLag: NewHistogram()}
}

// Duration is the length of the span.
func (s *Stats) Duration() time.Duration { return s.End.Sub(s.Start) }

// Merge adds o into s and widens s's span to cover both.
func (s *Stats) Merge(o *Stats) {
	if s.Start.IsZero() || (!o.Start.IsZero() && o.Start.Before(s.Start)) {
		s.Start = o.Start
	}
	if o.End.After(s.End) {
		s.End = o.End
	}
	for _, os := range o.Series {
		s.series(os.Name, os.Outcome).merge(os)
		runtime.Gosched()
	}
	s.SendLag.Merge(o.SendLag)
	s.Scheduled += o.Scheduled
	s.Dropped += o.Dropped
	s.Unfinished += o.Unfinished
	for _, f := range o.Failures {
		s.AddFailure(f)
	}
}

// SeriesFor returns the series of name and outcome, creating it (empty, in
// order) when s has none: for readers that add stored intervals into s
// without building a Stats for each.
func (s *Stats) SeriesFor(name string, outcome Outcome) *Series { return s.series(name, outcome) }

// series returns the series for name and outcome, creating it in order.
func (s *Stats) series(name string, outcome Outcome) *Series {
	i := sort.Search(len(s.Series), func(i int) bool {
		x := s.Series[i]
		return x.Name > name || (x.Name == name && x.Outcome >= outcome)
	})
	if i < len(s.Series) && s.Series[i].Name == name && s.Series[i].Outcome == outcome {
		return s.Series[i]
	}
	ns := newSeries(name, outcome)
	s.Series = append(s.Series, nil)
	copy(s.Series[i+1:], s.Series[i:])
	s.Series[i] = ns
	return ns
}

// Names lists the request names that have samples, sorted.
func (s *Stats) Names() []string {
	var names []string
	for _, x := range s.Series {
		if len(names) == 0 || names[len(names)-1] != x.Name {
			names = append(names, x.Name)
		}
	}
	return names
}

// Select returns the series of one request name, or of every name when
// name is empty.
func (s *Stats) Select(name string) []*Series {
	if name == "" {
		return s.Series
	}
	var out []*Series
	for _, x := range s.Series {
		if x.Name == name {
			out = append(out, x)
		}
	}
	return out
}

// Latency merges the headline latency of the named request (every request
// when name is empty) across outcomes into a new histogram.
func (s *Stats) Latency(name string) *hdrhistogram.Histogram {
	h := NewHistogram()
	for _, x := range s.Select(name) {
		h.Merge(x.Latency)
	}
	return h
}

// Service merges the service time of the named request (every request when
// name is empty) across outcomes into a new histogram.
func (s *Stats) Service(name string) *hdrhistogram.Histogram {
	h := NewHistogram()
	for _, x := range s.Select(name) {
		h.Merge(x.Service)
	}
	return h
}

// Completed counts requests of the named request (all when empty) that got a
// response or an error.
func (s *Stats) Completed(name string) int64 {
	var n int64
	for _, x := range s.Select(name) {
		n += x.Count()
	}
	return n
}

// Failed counts the requests of the named request (all when empty) whose
// outcome was an error.
func (s *Stats) Failed(name string) int64 {
	var n int64
	for _, x := range s.Select(name) {
		if x.Outcome == Error {
			n += x.Count()
		}
	}
	return n
}

// ErrorRate is Failed / Completed, or 0 when nothing completed.
func (s *Stats) ErrorRate(name string) float64 {
	c := s.Completed(name)
	if c == 0 {
		return 0
	}
	return float64(s.Failed(name)) / float64(c)
}

// Rate is the completion rate per second over the span.
func (s *Stats) Rate(name string) float64 {
	d := s.Duration().Seconds()
	if d <= 0 {
		return 0
	}
	return float64(s.Completed(name)) / d
}

// ErrorsByClass sums transport errors by class for the named request (all
// when empty).
func (s *Stats) ErrorsByClass(name string) map[ErrorClass]int64 {
	out := map[ErrorClass]int64{}
	for _, x := range s.Select(name) {
		for c, n := range x.Errors {
			out[c] += n
		}
	}
	return out
}

// StatusCounts sums responses by status code for the named request (all
// when empty).
func (s *Stats) StatusCounts(name string) map[int]int64 {
	out := map[int]int64{}
	for _, x := range s.Select(name) {
		for c, n := range x.Status {
			out[c] += n
		}
	}
	return out
}

// Bytes sums bytes read and written for the named request (all when empty).
func (s *Stats) Bytes(name string) (in, out int64) {
	for _, x := range s.Select(name) {
		in += x.BytesIn
		out += x.BytesOut
	}
	return in, out
}

// Responses counts requests that got an HTTP response (of any status).
func (s *Stats) Responses(name string) int64 {
	var n int64
	for _, x := range s.Select(name) {
		for _, c := range x.Status {
			n += c
		}
	}
	return n
}

// Percentile returns the value of h at percentile p (0 < p <= 100) as a
// duration.
func Percentile(h *hdrhistogram.Histogram, p float64) time.Duration {
	return time.Duration(h.ValueAtPercentile(p))
}

// DurationOf converts a histogram statistic in nanoseconds to a duration,
// rounding to the nearest nanosecond.
func DurationOf(ns float64) time.Duration {
	if math.IsNaN(ns) {
		return 0
	}
	return time.Duration(math.Round(ns))
}
