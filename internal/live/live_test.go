package live

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/klauspost/compress/snappy"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/prompb"

	"github.com/faultline-dev/faultline/internal/testenv"
	"github.com/faultline-dev/faultline/loadgen"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestNativeKey(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		v    float64
		want int
	}{
		{1, 0}, {2, 8}, {0.5, -8}, {Factor, 1}, {1.0001, 1}, {Factor * 1.0001, 2}, {0.001, -79},
	} {
		if got := nativeKey(c.v); got != c.want {
			t.Errorf("nativeKey(%g) = %d, want %d", c.v, got, c.want)
		}
		// Bucket k holds (Factor^(k-1), Factor^k].
		k := nativeKey(c.v)
		if lo, hi := math.Pow(Factor, float64(k-1)), math.Pow(Factor, float64(k)); c.v <= lo*(1-1e-12) || c.v > hi*(1+1e-12) {
			t.Errorf("%g in bucket %d = (%g, %g]", c.v, k, lo, hi)
		}
	}
}

func TestSpansRoundTrip(t *testing.T) {
	t.Parallel()
	for _, buckets := range []map[int]uint64{
		{},
		{5: 3},
		{-3: 1, -2: 4, 0: 2, 1: 7, 9: 1, 10: 1, 30: 5},
	} {
		spans, deltas := spans(buckets)
		got := map[int]uint64{}
		key, i, count := 0, 0, int64(0)
		for _, s := range spans {
			key += int(s.GetOffset())
			for range s.GetLength() {
				count += deltas[i]
				if count != 0 {
					got[key] = uint64(count)
				}
				key++
				i++
			}
		}
		if len(got) != len(buckets) || i != len(deltas) {
			t.Fatalf("%v: decoded %v (%d of %d deltas)", buckets, got, i, len(deltas))
		}
		for k, v := range buckets {
			if got[k] != v {
				t.Errorf("%v: bucket %d decoded %d", buckets, k, got[k])
			}
		}
	}
}

// interval is one synthetic interval: n requests of name at each latency.
func interval(end time.Time, name string, n int64, latencies ...time.Duration) *loadgen.Stats {
	iv := loadgen.NewStats(end.Add(-time.Second), end)
	s := &loadgen.Series{Name: name, Outcome: loadgen.OK, Latency: loadgen.NewHistogram(), Service: loadgen.NewHistogram(),
		Status: map[int]int64{}, Errors: map[loadgen.ErrorClass]int64{}}
	for _, l := range latencies {
		_ = s.Latency.RecordValues(int64(l), n)
		_ = iv.SendLag.RecordValues(int64(time.Millisecond), n)
		s.Status[200] += n
	}
	iv.Series = append(iv.Series, s)
	iv.Scheduled = n * int64(len(latencies))
	return iv
}

func TestServeExposition(t *testing.T) {
	t.Parallel()
	l := New(io.Discard)
	if err := l.Serve("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Interval(interval(time.Now(), "checkout", 10, 3*time.Millisecond, 40*time.Millisecond), "baseline", nil)
	l.Interval(interval(time.Now(), "checkout", 10, 3*time.Millisecond), "fault", []string{"latency"})

	resp, err := http.Get("http://" + l.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string, labels map[string]string) float64 {
		for _, m := range families[name].GetMetric() {
			if matches(m, labels) {
				switch {
				case m.Counter != nil:
					return m.Counter.GetValue()
				case m.Gauge != nil:
					return m.Gauge.GetValue()
				case m.Histogram != nil:
					return float64(m.Histogram.GetSampleCount())
				}
			}
		}
		t.Fatalf("%s%v missing", name, labels)
		return 0
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{RequestsName, map[string]string{"request": "checkout", "outcome": "ok"}, 30},
		{ResponsesName, map[string]string{"request": "checkout", "code": "200"}, 30},
		{LatencyName, map[string]string{"request": "checkout", "outcome": "ok"}, 30},
		{SendLagName, nil, 30},
		{ScheduledName, nil, 30},
		{PhaseName, map[string]string{"phase": "baseline"}, 0},
		{PhaseName, map[string]string{"phase": "fault"}, 1},
		{FaultName, map[string]string{"fault": "latency"}, 1},
	} {
		if got := value(c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %g, want %g", c.name, c.labels, got, c.want)
		}
	}
	// The classic buckets: 20 of the 30 at 3 ms, under 5 ms.
	for _, b := range families[LatencyName].Metric[0].Histogram.Bucket {
		if b.GetUpperBound() == 0.005 && b.GetCumulativeCount() != 20 {
			t.Errorf("le=0.005: %d, want 20", b.GetCumulativeCount())
		}
	}
}

// TestServeUncompressed: the page goes uncompressed even to a scraper
// that takes gzip, as Prometheus does (see Serve).
func TestServeUncompressed(t *testing.T) {
	t.Parallel()
	l := New(io.Discard)
	if err := l.Serve("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Interval(interval(time.Now(), "checkout", 10, 3*time.Millisecond), "", nil)
	req, err := http.NewRequest(http.MethodGet, "http://"+l.Addr()+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if enc := resp.Header.Get("Content-Encoding"); enc != "" || !bytes.Contains(body, []byte(RequestsName)) {
		t.Errorf("Content-Encoding %q, body %.60q: want the page as it is", enc, body)
	}
}

func matches(m *dto.Metric, labels map[string]string) bool {
	n := 0
	for _, l := range m.Label {
		if v, ok := labels[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(labels)
}

// receiver is a remote-write 1.0 endpoint that keeps what it is sent.
type receiver struct {
	mu       sync.Mutex
	requests []*prompb.WriteRequest
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	raw, err := snappy.Decode(nil, body)
	if err != nil || r.Header.Get("Content-Encoding") != "snappy" {
		http.Error(w, "not snappy", http.StatusBadRequest)
		return
	}
	var req prompb.WriteRequest
	if err := req.Unmarshal(raw); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.requests = append(rc.requests, &req)
	rc.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func TestRemoteWrite(t *testing.T) {
	t.Parallel()
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	l := New(io.Discard)
	if err := l.RemoteWrite(srv.URL + "/api/v1/write"); err != nil {
		t.Fatal(err)
	}
	end := time.Now().Truncate(time.Second)
	l.Interval(interval(end, "checkout", 10, 3*time.Millisecond), "", nil)
	if report := l.Close(); report != "" {
		t.Fatalf("report %q, want none", report)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.requests) < 1 {
		t.Fatal("nothing received")
	}
	var native, classic bool
	for _, ts := range rc.requests[0].Timeseries {
		name := ""
		for i, lb := range ts.Labels {
			if i > 0 && ts.Labels[i-1].Name >= lb.Name {
				t.Errorf("labels not sorted: %v", ts.Labels)
			}
			if lb.Name == "__name__" {
				name = lb.Value
			}
		}
		if name == LatencyName && len(ts.Histograms) == 1 {
			h := ts.Histograms[0]
			native = h.GetCountInt() == 10 && h.Schema == Schema && h.Timestamp == end.UnixMilli()
		}
		if name == LatencyName+"_count" && len(ts.Samples) == 1 {
			classic = ts.Samples[0].Value == 10
		}
	}
	if !native || !classic {
		t.Errorf("native histogram %v, classic count %v: want both", native, classic)
	}
}

// TestRemoteWriteUnreachable: a receiver that never answers costs pushes,
// not load: Interval never waits for a push, failures are warned once and
// reported at the end, and Close gives up after the timeout.
func TestRemoteWriteUnreachable(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	var warn strings.Builder
	l := New(&syncWriter{w: &warn})
	if err := l.RemoteWrite(srv.URL); err != nil {
		t.Fatal(err)
	}
	const timeout = 3 * time.Second
	l.pusher.timeout = timeout
	start := time.Now()
	for i := range QueueLength + 10 {
		l.Interval(interval(start.Add(time.Duration(i)*time.Second), "a", 1, time.Millisecond), "", nil)
	}
	// A push that waited for the receiver would take the whole timeout.
	if d := time.Since(start); d >= timeout {
		t.Errorf("%d intervals took %s with a dead receiver", QueueLength+10, d)
	}
	closing := time.Now()
	report := l.Close()
	if d := time.Since(closing); d > 2*timeout {
		t.Errorf("Close took %s", d)
	}
	if !strings.Contains(report, "pushes failed") || !strings.Contains(report, "intervals skipped") {
		t.Errorf("report %q", report)
	}
	if n := strings.Count(warn.String(), "remote write to"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, warn.String())
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// TestForEachBar checks the bucket arithmetic against HdrHistogram's own
// Distribution.
func TestForEachBar(t *testing.T) {
	t.Parallel()
	h := loadgen.NewHistogram()
	for _, v := range []int64{1, 2, 1000, 2047, 2048, 2049, 4097, 123456, 7_654_321, 999_999_999, int64(time.Hour)} {
		_ = h.RecordValues(v, v%7+1)
	}
	type bar struct{ lo, hi, n int64 }
	var want, got []bar
	for _, b := range h.Distribution() {
		if b.Count > 0 {
			want = append(want, bar{b.From, b.To, b.Count})
		}
	}
	forEachBar(h, func(lo, hi, n int64) { got = append(got, bar{lo, hi, n}) })
	if len(got) != len(want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("bar %d: got %v, want %v", i, got[i], want[i])
		}
	}
}

// TestForEachBarVisitsEveryBucket: forEachBar yields every populated
// bucket of a histogram with its lowest and highest value, as read from
// the dense counts, in the engine's geometry and another.
func TestForEachBarVisitsEveryBucket(t *testing.T) {
	t.Parallel()
	for _, h := range []*hdrhistogram.Histogram{hdrhistogram.New(1, 3_600_000_000_000, 3), hdrhistogram.New(1000, 60_000_000_000, 2)} {
		for _, v := range []int64{1000, 1500, 2047, 2048, 4097, 1_000_000, 3_999_999, 250_000_000, 59_000_000_000} {
			_ = h.RecordValues(v, v%7+1)
		}
		type bar struct{ lo, hi, n int64 }
		var got []bar
		forEachBar(h, func(lo, hi, n int64) { got = append(got, bar{lo, hi, n}) })
		var want []bar
		for _, b := range h.Distribution() {
			if b.Count > 0 {
				want = append(want, bar{b.From, b.To, b.Count})
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%d bars, want %d", len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("bar %d: %+v, want %+v", i, got[i], want[i])
			}
		}
	}
}
