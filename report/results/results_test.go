package results

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/faultline-dev/faultline/loadgen"
)

func TestResultsRoundTrip(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ok, _ := loadgen.NewTarget("GET", srv.URL+"/")
	missing, _ := loadgen.NewTarget("GET", srv.URL+"/missing")
	path := filepath.Join(t.TempDir(), "results.json")
	start := time.Now()
	info, err := NewHeader("faultline test", loadgen.Open, start, 1500*time.Millisecond, 200, map[string]any{"rate": 200})
	if err != nil {
		t.Fatal(err)
	}
	w, err := Create(path, info)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("the results file exists before it is complete")
	}
	res, err := loadgen.Run(context.Background(), loadgen.Options{
		Targets: []loadgen.Target{ok, missing}, Model: loadgen.Open, Rate: 200, Duration: 1500 * time.Millisecond,
		OnInterval: w.WriteInterval,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Any summary is stored as it is; this one has the field checked below.
	if err := w.Close(res.End, map[string]int64{"requests": res.Total.Completed("")}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	back, err := Read(f, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Intervals) != res.Intervals {
		t.Fatalf("read %d intervals, wrote %d", len(back.Intervals), res.Intervals)
	}
	total := back.Total()
	for _, name := range []string{"GET /", "GET /missing"} {
		if !total.Latency(name).Equals(res.Total.Latency(name)) {
			t.Errorf("%s: latency read back differs from the run's", name)
		}
		if total.Completed(name) != 150 {
			t.Errorf("%s: %d completed read back, want 150", name, total.Completed(name))
		}
	}
	if total.StatusCounts("GET /missing")[404] != 150 || total.Failed("GET /missing") != 150 {
		t.Errorf("statuses read back: %v", total.StatusCounts("GET /missing"))
	}
	// The failing responses' samples survive the file (results version 2).
	if f := total.FailuresOf("GET /missing"); len(f) == 0 || f[0].Status != 404 || f[0].Body != "404 page not found\n" {
		t.Errorf("failure samples read back: %+v", f)
	}
	if !total.SendLag.Equals(res.Total.SendLag) || total.Scheduled != res.Total.Scheduled {
		t.Error("send lag or scheduled count differs after the round trip")
	}
	if back.Model != loadgen.Open || back.TargetRate != 200 || !bytes.Contains(back.Summary, []byte(`"requests":300`)) {
		t.Errorf("header or summary lost: model %s rate %v summary %s", back.Model, back.TargetRate, back.Summary[:80])
	}
}

func TestResultsAbortLeavesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	info, _ := NewHeader("t", loadgen.Open, time.Now(), time.Second, 1, nil)
	w, err := Create(filepath.Join(dir, "r.json"), info)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteInterval(loadgen.NewStats(time.Now(), time.Now()))
	w.Abort()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("left %d files behind", len(entries))
	}
}

func TestReadRejectsBadFiles(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, content, want string
	}{
		{"not json", "hello", "r.json: malformed JSON"},
		{"truncated", `{"schema":"faultline/results","version":1,"intervals":[`, "r.json: truncated"},
		{"other schema", `{"schema":"k6","version":1}`, "r.json: not a faultline results file"},
		{"newer", `{"schema":"faultline/results","version":3,"summary":{}}`, "results version 3 is not supported"},
		{"no summary", `{"schema":"faultline/results","version":1,"intervals":[]}`, "incomplete"},
		{"bad histogram", `{"schema":"faultline/results","version":1,"intervals":[{"series":[{"name":"a","latency":"xx"}]}],"summary":{}}`, "interval 0"},
	}
	for _, c := range cases {
		_, err := Read(strings.NewReader(c.content), "r.json")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// TestEncoderWritesHdrHistogramsBytes checks that an Encoder, reused from
// one interval to the next, stores every histogram exactly as
// hdrhistogram's own Encode does, and that a histogram of another geometry
// goes through hdrhistogram unchanged.
func TestEncoderWritesHdrHistogramsBytes(t *testing.T) {
	enc := NewEncoder()
	start := time.Unix(1_700_000_000, 0)
	for i, fill := range []func(st *loadgen.Stats){
		func(st *loadgen.Stats) {},
		func(st *loadgen.Stats) {
			s := st.SeriesFor("a", loadgen.OK)
			for v := int64(1); v < 5_000_000_000; v = v*3 + 7 {
				_ = s.Latency.RecordValues(v, v%5+1)
				_ = s.Service.RecordValue(v / 2)
				_ = st.SendLag.RecordValue(v%100_000 + 1)
			}
		},
		func(st *loadgen.Stats) {
			_ = st.SeriesFor("b", loadgen.Error).Latency.RecordValue(int64(time.Hour))
			st.SendLag = hdrhistogram.New(1, 1_000_000, 2) // another geometry
			_ = st.SendLag.RecordValue(12_345)
		},
	} {
		st := loadgen.NewStats(start, start.Add(time.Second))
		fill(st)
		got, err := enc.Interval(st, start)
		if err != nil {
			t.Fatalf("interval %d: %v", i, err)
		}
		want := func(h *hdrhistogram.Histogram) string {
			b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		if got.SendLag != want(st.SendLag) {
			t.Errorf("interval %d: send lag stored differently from hdrhistogram's Encode", i)
		}
		if len(got.Series) != len(st.Series) {
			t.Fatalf("interval %d: %d series stored, want %d", i, len(got.Series), len(st.Series))
		}
		for k, s := range st.Series {
			if got.Series[k].Latency != want(s.Latency) || got.Series[k].Service != want(s.Service) {
				t.Errorf("interval %d, series %s: stored differently from hdrhistogram's Encode", i, s.Name)
			}
		}
	}
}
