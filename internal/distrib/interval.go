package distrib

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/faultline-dev/faultline/loadgen"
)

// Interval is one interval on the wire, in the results file's layout
// (docs/results-format.md): offsets from the worker's start and
// HdrHistogram V2 compressed histograms.
//
// It is its own copy of that layout only until report/results exports its
// encoder; the tests check the two agree by reading a worker's intervals
// back through a results file.
type Interval struct {
	StartMs    float64       `json:"start_ms"`
	EndMs      float64       `json:"end_ms"`
	Scheduled  int64         `json:"scheduled"`
	Dropped    int64         `json:"dropped"`
	Unfinished int64         `json:"unfinished"`
	SendLag    string        `json:"send_lag"`
	Series     []SeriesJSON  `json:"series"`
	Failures   []FailureJSON `json:"failures,omitempty"`
}

// SeriesJSON is one request name and outcome of an interval.
type SeriesJSON struct {
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

// FailureJSON is one failure sample.
type FailureJSON struct {
	Name      string `json:"name"`
	Status    int    `json:"status,omitempty"`
	Error     string `json:"error,omitempty"`
	Body      string `json:"body"`
	Truncated bool   `json:"truncated,omitempty"`
}

func encodeHist(h *hdrhistogram.Histogram) (string, error) {
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	return string(b), err
}

func msSince(t, start time.Time) float64 { return float64(t.Sub(start).Microseconds()) / 1000 }

// EncodeInterval is iv on the wire, its times as offsets from start.
func EncodeInterval(iv *loadgen.Stats, start time.Time) (*Interval, error) {
	out := &Interval{StartMs: msSince(iv.Start, start), EndMs: msSince(iv.End, start),
		Scheduled: iv.Scheduled, Dropped: iv.Dropped, Unfinished: iv.Unfinished, Series: []SeriesJSON{}}
	var err error
	if out.SendLag, err = encodeHist(iv.SendLag); err != nil {
		return nil, err
	}
	for _, s := range iv.Series {
		sj := SeriesJSON{Name: s.Name, Outcome: s.Outcome, Count: s.Count(), BytesIn: s.BytesIn, BytesOut: s.BytesOut}
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
	for _, f := range iv.Failures {
		out.Failures = append(out.Failures, FailureJSON{Name: f.Name, Status: f.Status, Error: string(f.Error), Body: f.Body, Truncated: f.Truncated})
	}
	return out, nil
}

// decodeHist reads a histogram into the engine's geometry, so that it
// merges exactly with every other.
func decodeHist(s string) (*hdrhistogram.Histogram, error) {
	h, err := hdrhistogram.Decode([]byte(s))
	if err != nil {
		return nil, err
	}
	if h.LowestTrackableValue() == loadgen.HistLowest && h.HighestTrackableValue() == loadgen.HistHighest && h.SignificantFigures() == loadgen.HistSigFigs {
		return h, nil
	}
	out := loadgen.NewHistogram()
	if dropped := out.Merge(h); dropped > 0 {
		return nil, fmt.Errorf("histogram holds %d values outside 1ns..1h", dropped)
	}
	return out, nil
}

// DecodeInterval reads an interval back, its offsets counted from start.
func DecodeInterval(ij *Interval, start time.Time) (*loadgen.Stats, error) {
	at := func(ms float64) time.Time { return start.Add(time.Duration(ms * float64(time.Millisecond))) }
	iv := loadgen.NewStats(at(ij.StartMs), at(ij.EndMs))
	iv.Scheduled, iv.Dropped, iv.Unfinished = ij.Scheduled, ij.Dropped, ij.Unfinished
	var err error
	if iv.SendLag, err = decodeHist(ij.SendLag); err != nil {
		return nil, fmt.Errorf("send_lag: %w", err)
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
		iv.AddFailure(loadgen.FailureSample{Name: f.Name, Status: f.Status, Error: loadgen.ErrorClass(f.Error), Body: f.Body, Truncated: f.Truncated})
	}
	sort.Slice(iv.Series, func(i, j int) bool {
		a, b := iv.Series[i], iv.Series[j]
		return a.Name < b.Name || (a.Name == b.Name && a.Outcome < b.Outcome)
	})
	return iv, nil
}
