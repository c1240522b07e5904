package distrib_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/internal/distrib"
	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report/results"
)

// sampleInterval is an interval with two series, status and error counts,
// send lag and a failure sample.
func sampleInterval(start time.Time) *loadgen.Stats {
	iv := loadgen.NewStats(start.Add(time.Second), start.Add(2*time.Second))
	iv.Scheduled, iv.Dropped, iv.Unfinished = 120, 3, 2
	for _, o := range []loadgen.Outcome{loadgen.OK, loadgen.Error} {
		s := &loadgen.Series{Name: "GET /", Outcome: o, Latency: loadgen.NewHistogram(), Service: loadgen.NewHistogram(),
			Status: map[int]int64{}, Errors: map[loadgen.ErrorClass]int64{}, BytesIn: 1000, BytesOut: 500}
		for v := int64(1); v <= 50; v++ {
			_ = s.Latency.RecordValue(v * int64(time.Millisecond))
			_ = s.Service.RecordValue(v * int64(time.Microsecond) * 700)
		}
		if o == loadgen.OK {
			s.Status[200] = 50
		} else {
			s.Status[503] = 40
			s.Errors[loadgen.ErrTimeout] = 10
		}
		iv.Series = append(iv.Series, s)
	}
	_ = iv.SendLag.RecordValue(int64(3 * time.Millisecond))
	iv.AddFailure(loadgen.FailureSample{Name: "GET /", Status: 503, Body: "busy"})
	return iv
}

// TestIntervalCrossesTheWire: an interval message carries the results
// file's interval (results.EncodeInterval) through JSON and reads back to
// the same statistics, histograms exact.
func TestIntervalCrossesTheWire(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	iv := sampleInterval(start)
	ij, err := results.EncodeInterval(iv, start)
	if err != nil {
		t.Fatal(err)
	}
	line, err := json.Marshal(distrib.Message{Type: distrib.MsgInterval, Seq: 3, Interval: ij})
	if err != nil {
		t.Fatal(err)
	}
	var m distrib.Message
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatal(err)
	}
	back, err := results.DecodeInterval(m.Interval, start)
	if err != nil {
		t.Fatal(err)
	}
	if m.Seq != 3 || !back.Start.Equal(iv.Start) || !back.End.Equal(iv.End) || back.Completed("") != 100 || back.Failed("") != 50 ||
		back.Scheduled != 120 || !back.Latency("").Equals(iv.Latency("")) || !back.SendLag.Equals(iv.SendLag) ||
		!reflect.DeepEqual(back.StatusCounts(""), iv.StatusCounts("")) || len(back.Failures) != 1 {
		t.Fatalf("read back %+v", back)
	}
}
