package report

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report/internal/hdr"
	"github.com/faultline-dev/faultline/report/results"
)

// Interval is one interval of a run as the per-interval formats, the plots
// and compare read it: its histograms sparse, as stored, so that a day of
// one-second intervals streams through a renderer one at a time without a
// dense histogram per request name and interval.
type Interval struct {
	Start, End                     time.Time
	Scheduled, Dropped, Unfinished int64
	// SendLag, and each series' Service, are empty when the interval was
	// read for the renderers, which do not draw them (see decodeInterval).
	SendLag hdr.Sparse
	// Series are sorted by name, then outcome.
	Series   []IntervalSeries
	Failures []loadgen.FailureSample
}

// IntervalSeries is one request name and outcome of an interval.
type IntervalSeries struct {
	Name              string
	Outcome           loadgen.Outcome
	Latency, Service  hdr.Sparse
	Status            map[int]int64
	Errors            map[loadgen.ErrorClass]int64
	BytesIn, BytesOut int64
}

// engine is the geometry of every histogram the load engine records, and
// so of every histogram faultline stores.
var engine = hdr.GeometryFor(loadgen.HistLowest, loadgen.HistHighest, loadgen.HistSigFigs)

func newCodec() *hdr.Codec {
	return hdr.NewCodec(engine, loadgen.HistLowest, loadgen.HistHighest, loadgen.HistSigFigs)
}

// Duration is the length of the interval.
func (iv *Interval) Duration() time.Duration { return iv.End.Sub(iv.Start) }

// Names lists the request names of the interval, sorted.
func (iv *Interval) Names() []string {
	var names []string
	for _, s := range iv.Series {
		if len(names) == 0 || names[len(names)-1] != s.Name {
			names = append(names, s.Name)
		}
	}
	return names
}

func (iv *Interval) each(name string, fn func(s *IntervalSeries)) {
	for i := range iv.Series {
		if name == "" || iv.Series[i].Name == name {
			fn(&iv.Series[i])
		}
	}
}

// Completed counts the requests of name (all when empty) that completed.
func (iv *Interval) Completed(name string) int64 {
	var n int64
	iv.each(name, func(s *IntervalSeries) { n += s.Latency.Total })
	return n
}

// Failed counts the requests of name (all when empty) that failed.
func (iv *Interval) Failed(name string) int64 {
	var n int64
	iv.each(name, func(s *IntervalSeries) {
		if s.Outcome == loadgen.Error {
			n += s.Latency.Total
		}
	})
	return n
}

// ErrorRate is Failed / Completed, 0 when nothing completed.
func (iv *Interval) ErrorRate(name string) float64 {
	c := iv.Completed(name)
	if c == 0 {
		return 0
	}
	return float64(iv.Failed(name)) / float64(c)
}

// Rate is the completion rate per second over the interval.
func (iv *Interval) Rate(name string) float64 {
	d := iv.Duration().Seconds()
	if d <= 0 {
		return 0
	}
	return float64(iv.Completed(name)) / d
}

// StatusCounts sums the responses of name (all when empty) by status code.
func (iv *Interval) StatusCounts(name string) map[int]int64 {
	out := map[int]int64{}
	iv.each(name, func(s *IntervalSeries) {
		for c, n := range s.Status {
			out[c] += n
		}
	})
	return out
}

// ErrorsByClass sums the transport failures of name (all when empty) by
// class.
func (iv *Interval) ErrorsByClass(name string) map[loadgen.ErrorClass]int64 {
	out := map[loadgen.ErrorClass]int64{}
	iv.each(name, func(s *IntervalSeries) {
		for c, n := range s.Errors {
			out[c] += n
		}
	})
	return out
}

// Latency is the latency of name (all when empty) across outcomes, merged
// exactly. It may share storage with the interval's own.
func (iv *Interval) Latency(name string) hdr.Sparse {
	return iv.merged(name, func(s *IntervalSeries) *hdr.Sparse { return &s.Latency })
}

// Service is the service time of name (all when empty), as Latency.
func (iv *Interval) Service(name string) hdr.Sparse {
	return iv.merged(name, func(s *IntervalSeries) *hdr.Sparse { return &s.Service })
}

func (iv *Interval) merged(name string, of func(*IntervalSeries) *hdr.Sparse) hdr.Sparse {
	var out hdr.Sparse
	n := 0
	iv.each(name, func(s *IntervalSeries) {
		if n == 0 {
			out = *of(s)
		} else {
			if n == 1 {
				out = hdr.Sparse{Index: append([]int32(nil), out.Index...), Counts: append([]int64(nil), out.Counts...), Total: out.Total}
			}
			out.Add(of(s))
		}
		n++
	})
	return out
}

// addTo merges iv into s exactly, as s.Merge would merge iv's dense form.
func (iv *Interval) addTo(s *loadgen.Stats) {
	if s.Start.IsZero() || (!iv.Start.IsZero() && iv.Start.Before(s.Start)) {
		s.Start = iv.Start
	}
	if iv.End.After(s.End) {
		s.End = iv.End
	}
	for i := range iv.Series {
		x := &iv.Series[i]
		dst := aggregateSeries(s, x.Name, x.Outcome)
		x.Latency.RecordInto(dst.Latency, engine)
		recordInto(&dst.Service, &x.Service)
		for code, n := range x.Status {
			dst.Status[code] += n
		}
		for class, n := range x.Errors {
			dst.Errors[class] += n
		}
		dst.BytesIn += x.BytesIn
		dst.BytesOut += x.BytesOut
	}
	recordInto(&s.SendLag, &iv.SendLag)
	s.Scheduled += iv.Scheduled
	s.Dropped += iv.Dropped
	s.Unfinished += iv.Unfinished
	for _, f := range iv.Failures {
		s.AddFailure(f)
	}
}

// noSamples is the one empty histogram that the aggregates' service times
// and send lags share until a sample comes: a run read from a file has
// none (its intervals are read without them), and a dense histogram is
// 270 kB of heap, which raises the garbage collector's target as much
// again however empty it stays. Nothing writes into it: recordInto gives a
// series its own histogram first.
var noSamples = sync.OnceValue(loadgen.NewHistogram)

// newAggregateStats is an empty loadgen.Stats whose send lag is noSamples.
func newAggregateStats() *loadgen.Stats {
	return &loadgen.Stats{SendLag: noSamples()}
}

// aggregateSeries is loadgen's Stats.SeriesFor for the aggregates: a new
// series' service time is noSamples.
func aggregateSeries(s *loadgen.Stats, name string, outcome loadgen.Outcome) *loadgen.Series {
	i := sort.Search(len(s.Series), func(i int) bool {
		x := s.Series[i]
		return x.Name > name || (x.Name == name && x.Outcome >= outcome)
	})
	if i < len(s.Series) && s.Series[i].Name == name && s.Series[i].Outcome == outcome {
		return s.Series[i]
	}
	ns := &loadgen.Series{Name: name, Outcome: outcome, Latency: loadgen.NewHistogram(), Service: noSamples(),
		Status: map[int]int64{}, Errors: map[loadgen.ErrorClass]int64{}}
	s.Series = slices.Insert(s.Series, i, ns)
	return ns
}

// recordInto adds src to *dst, first giving *dst a histogram of its own
// when it is noSamples and src holds values.
func recordInto(dst **hdrhistogram.Histogram, src *hdr.Sparse) {
	if len(src.Index) == 0 {
		return
	}
	if *dst == noSamples() {
		*dst = loadgen.NewHistogram()
	}
	src.RecordInto(*dst, engine)
}

// intervalOf is st as an Interval, for runs built in memory.
func intervalOf(st *loadgen.Stats) *Interval {
	iv := &Interval{Start: st.Start, End: st.End, Scheduled: st.Scheduled, Dropped: st.Dropped, Unfinished: st.Unfinished,
		SendLag: hdr.SparseOf(st.SendLag, engine), Failures: st.Failures}
	for _, s := range st.Series {
		iv.Series = append(iv.Series, IntervalSeries{Name: s.Name, Outcome: s.Outcome,
			Latency: hdr.SparseOf(s.Latency, engine), Service: hdr.SparseOf(s.Service, engine),
			Status: s.Status, Errors: s.Errors, BytesIn: s.BytesIn, BytesOut: s.BytesOut})
	}
	return iv
}

// decodeInterval reads a stored interval, its offsets counted from start,
// as results.DecodeInterval does, into sparse histograms. Only full reads
// the service time and send lag histograms, which only compare reads:
// without them an interval decodes in less than half the time.
func decodeInterval(c *hdr.Codec, ij *results.Interval, start time.Time, full bool) (*Interval, error) {
	at := func(msOff float64) time.Time { return start.Add(time.Duration(msOff * float64(time.Millisecond))) }
	iv := &Interval{Start: at(ij.StartMs), End: at(ij.EndMs), Scheduled: ij.Scheduled, Dropped: ij.Dropped, Unfinished: ij.Unfinished}
	if ij.SendLag != "" && full {
		if err := decodeSparse(c, ij.SendLag, &iv.SendLag); err != nil {
			return nil, fmt.Errorf("send_lag: %w", err)
		}
	}
	for _, sj := range ij.Series {
		s := IntervalSeries{Name: sj.Name, Outcome: sj.Outcome, BytesIn: sj.BytesIn, BytesOut: sj.BytesOut}
		if err := decodeSparse(c, sj.Latency, &s.Latency); err != nil {
			return nil, fmt.Errorf("series %q latency: %w", sj.Name, err)
		}
		if full {
			if err := decodeSparse(c, sj.Service, &s.Service); err != nil {
				return nil, fmt.Errorf("series %q service: %w", sj.Name, err)
			}
		}
		var err error
		if s.Status, s.Errors, err = sj.Counts(); err != nil {
			return nil, err
		}
		iv.Series = append(iv.Series, s)
	}
	// AddFailure keeps the samples as DecodeInterval keeps them; a Stats
	// without histograms holds them (NewStats would allocate a dense one).
	var st loadgen.Stats
	for _, f := range ij.Failures {
		st.AddFailure(f.Sample())
	}
	iv.Failures = st.Failures
	sort.Slice(iv.Series, func(i, j int) bool {
		a, b := iv.Series[i], iv.Series[j]
		return a.Name < b.Name || (a.Name == b.Name && a.Outcome < b.Outcome)
	})
	return iv, nil
}

// decodeSparse reads one stored histogram into s; one in another geometry
// is re-homed into the engine's, as results.DecodeInterval does.
func decodeSparse(c *hdr.Codec, encoded string, s *hdr.Sparse) error {
	err := c.Decode(encoded, s)
	if !errors.Is(err, hdr.ErrOtherGeometry) {
		return err
	}
	h, err := hdrhistogram.Decode([]byte(encoded))
	if err != nil {
		return err
	}
	out := loadgen.NewHistogram()
	if dropped := out.Merge(h); dropped > 0 {
		return fmt.Errorf("histogram holds %d values outside 1ns..1h", dropped)
	}
	*s = hdr.SparseOf(out, engine)
	return nil
}
