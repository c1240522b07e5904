package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report/internal/fixture"
)

// TestHlogRoundTrip reads an interval log back with hdrhistogram-go's own
// reader: every interval and tag comes back, with its histogram intact and
// its start time to the millisecond (from the fractional BaseTime).
func TestHlogRoundTrip(t *testing.T) {
	t.Parallel()
	run := experimentRun()
	var buf bytes.Buffer
	if err := writeHlog(&buf, run, Options{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "#[StartTime: 1700000000.123 (seconds since epoch), 2023-11-14T22:13:20.123Z]\n#[BaseTime: 1700000000.123 (seconds since epoch)]\n") {
		t.Errorf("header:\n%s", buf.String()[:300])
	}
	reader := hdrhistogram.NewHistogramLogReader(&buf)
	type key struct {
		tag   string
		start int64
	}
	got := map[key]*hdrhistogram.Histogram{}
	for {
		h, err := reader.NextIntervalHistogram()
		if err != nil {
			t.Fatal(err)
		}
		if h == nil {
			break
		}
		got[key{h.Tag(), h.StartTimeMs()}] = h
	}
	if len(got) != 12*3 {
		t.Fatalf("read %d histograms, want 36 (12 intervals x (all + 2 names))", len(got))
	}
	find := func(tag string, startMs int64) *hdrhistogram.Histogram {
		// The reader computes milliseconds in floating point and truncates,
		// so a start may come back one millisecond early.
		for _, ms := range []int64{startMs, startMs - 1} {
			if h := got[key{tag, ms}]; h != nil {
				return h
			}
		}
		return nil
	}
	for i, iv := range run.Intervals {
		phase := run.Phases[run.phaseOf(iv)].Name
		startMs := iv.Start.UnixMilli()
		for tag, name := range map[string]string{"": "", phase + "/GET_/products": "GET /products", phase + "/POST_/orders": "POST /orders"} {
			h := find(tag, startMs)
			if h == nil {
				t.Errorf("interval %d: no histogram tagged %q starting at %d ms", i, tag, startMs)
				continue
			}
			if want := iv.Latency(name); !h.Equals(want) {
				t.Errorf("interval %d %q: histogram read back differs (count %d, want %d)", i, tag, h.TotalCount(), want.TotalCount())
			}
			if d := h.EndTimeMs() - h.StartTimeMs(); d < 999 || d > 1001 {
				t.Errorf("interval %d %q: length %d ms", i, tag, d)
			}
		}
	}
	if reader.RangeObservedMax() != run.Total().Latency("").Max() {
		t.Errorf("observed max %d, want %d", reader.RangeObservedMax(), run.Total().Latency("").Max())
	}
}

func TestHlogTag(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ phase, name, want string }{
		{"load", "GET /", "load/GET_/"},
		{"", "a,b c\td\ne", "a_b_c_d_e"},
		{"fault", "checkout", "fault/checkout"},
	} {
		if got := hlogTag(c.phase, c.name); got != c.want {
			t.Errorf("hlogTag(%q, %q) = %q, want %q", c.phase, c.name, got, c.want)
		}
	}
}

// TestHgrmFormatKnownPercentiles renders values 1..1000 µs through the
// hgrm format, in milliseconds: the distribution's rows are the known
// percentiles of 1..1000.
func TestHgrmFormatKnownPercentiles(t *testing.T) {
	t.Parallel()
	iv := loadgen.NewStats(fixture.Start, fixture.Start.Add(time.Second))
	x := &loadgen.Series{Name: "x", Outcome: loadgen.OK, Latency: loadgen.NewHistogram(), Service: loadgen.NewHistogram()}
	for v := int64(1); v <= 1000; v++ {
		_ = x.Latency.RecordValue(v * 1000)
	}
	iv.Series = []*loadgen.Series{x}
	run := loadShaped([]*loadgen.Stats{iv})
	var buf bytes.Buffer
	if err := writeHgrmFormat(&buf, run, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"       0.500 0.500000000000        500           2.00\n",
		"       0.900 0.900000000000        900          10.00\n",
		"       0.991 0.990625000000        991         106.67\n",
		"       1.000 1.000000000000       1000\n",
		"#[Max     =        1.000, Total count    =         1000]\n",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("hgrm lacks %q:\n%s", want, buf.String())
		}
	}
	if _, err := SelectLatency(run, "nope", ""); err == nil || !strings.Contains(err.Error(), `no phase named "nope"`) {
		t.Errorf("unknown phase: %v", err)
	}
	if _, err := SelectLatency(run, "", "y"); err == nil || !strings.Contains(err.Error(), `no request named "y"`) {
		t.Errorf("unknown request: %v", err)
	}
}
