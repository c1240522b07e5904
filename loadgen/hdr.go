package loadgen

import (
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram geometry shared by every histogram the engine records, so that
// any two of them merge exactly: nanosecond values from 1 ns to one hour at
// three significant digits.
const (
	HistLowest  int64 = 1
	HistHighest int64 = int64(time.Hour)
	HistSigFigs       = 3
)

// NewHistogram returns an empty histogram with the engine's geometry.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(HistLowest, HistHighest, HistSigFigs)
}

// recordDuration records d, clamped into the histogram's range so that no
// sample is ever lost: a value beyond an hour is recorded as one hour.
func recordDuration(h *hdrhistogram.Histogram, d time.Duration) {
	v := int64(d)
	if v < HistLowest {
		v = HistLowest
	} else if v > HistHighest {
		v = HistHighest
	}
	_ = h.RecordValue(v) // cannot fail: v is within range
}
