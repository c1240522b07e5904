package distrib_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
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

// TestIntervalIsTheResultsLayout: an interval on the wire is byte for byte
// what a results file stores, and reads back to the same statistics.
func TestIntervalIsTheResultsLayout(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	iv := sampleInterval(start)
	wire, err := distrib.EncodeInterval(iv, start)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "r.json")
	info, err := results.NewHeader("faultline test", loadgen.Open, start, 2*time.Second, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := results.Create(path, info)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteInterval(iv)
	if err := w.Close(start.Add(2*time.Second), map[string]any{}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ Intervals []json.RawMessage }
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	ours, _ := json.Marshal(wire)
	if stored := bytes.TrimSpace(file.Intervals[0]); !bytes.Equal(stored, ours) {
		t.Fatalf("wire and results file differ:\n%s\n%s", ours, stored)
	}
	back, err := distrib.DecodeInterval(wire, start)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Start.Equal(iv.Start) || !back.End.Equal(iv.End) || back.Completed("") != 100 || back.Failed("") != 50 ||
		back.Scheduled != 120 || back.Latency("").ValueAtQuantile(99) != iv.Latency("").ValueAtQuantile(99) ||
		!reflect.DeepEqual(back.StatusCounts(""), iv.StatusCounts("")) || len(back.Failures) != 1 {
		t.Fatalf("read back %+v", back)
	}
}
