package live

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/experiments"
	"github.com/faultline-dev/faultline/loadgen"
)

// RequirePrometheusEnv makes the real-Prometheus test fail instead of skip
// when the prometheus binary is missing (CI sets it).
const RequirePrometheusEnv = "FAULTLINE_REQUIRE_PROMETHEUS"

// experiment is a short run against the bundled shop: reads that cross the
// catalog -> store link (no cache), 50 ms slower in the middle phase. It has
// no hypotheses or steady state to hold: the test judges the metrics.
const experiment = `name: live-metrics
targets:
  shop: true
  catalog:
    cache:
      enabled: false
proxies:
  - name: store
    link: catalog->store
load:
  rate: 100/s
  requests:
    - name: product
      url: ${targets.gateway}/api/products/p001
phases:
  - name: baseline
    duration: 5s
  - name: slow
    duration: 5s
    faults:
      - kind: latency
        proxy: store
        latency: 50ms
  - name: recovery
    duration: 4s
`

// TestRealPrometheus runs a 14 s experiment with --metrics-addr and remote
// write into a real Prometheus server (Debian's package), then asks that
// server, in PromQL, for each phase's p99 and checks it against faultline's
// own within the native buckets' factor (1.0905).
func TestRealPrometheus(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv(RequirePrometheusEnv) == "1" {
			t.Fatalf("no prometheus binary, and %s=1", RequirePrometheusEnv)
		}
		t.Skip("no prometheus binary (apt-get install prometheus)")
	}
	metricsAddr := freeAddr(t)
	prom := startPrometheus(t, bin, metricsAddr)

	l := New(io.Discard)
	if err := l.Serve(metricsAddr); err != nil {
		t.Fatal(err)
	}
	if err := l.RemoteWrite(prom + "/api/v1/write"); err != nil {
		t.Fatal(err)
	}
	rec := &recordingSink{live: l}
	dir := t.TempDir()
	file := filepath.Join(dir, "live.yaml")
	if err := os.WriteFile(file, []byte(experiment), 0o644); err != nil {
		t.Fatal(err)
	}
	plan, err := experiments.Open(context.Background(), file, experiments.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := experiments.Run(context.Background(), plan, experiments.RunOptions{
		Dir: dir, LedgerPath: filepath.Join(dir, "ledger.jsonl"), Tool: "faultline test", Live: rec,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Let the last scrape happen before the server stops answering.
	time.Sleep(1500 * time.Millisecond)
	if report := l.Close(); report != "" {
		t.Fatalf("remote write: %s", report)
	}

	// Both paths landed: the scraped series carry the scrape job's labels,
	// the pushed ones job="faultline".
	for _, q := range []string{
		`faultline_requests_total{job="scrape"}`,
		`faultline_request_latency_seconds{job="scrape"}`,
		`faultline_requests_total{job="faultline"}`,
		`faultline_request_latency_seconds{job="faultline"}`,
		`faultline_request_latency_seconds_bucket{job="faultline",le="0.1"}`,
		`max_over_time(faultline_fault_active{job="faultline",fault="latency"}[5m]) == 1`,
		`faultline_phase{job="faultline",phase="recovery"} == 1`,
	} {
		if len(query(t, prom, q, rec.last())) == 0 {
			t.Errorf("%s: no series", q)
		}
	}

	checkDashboard(t, prom, rec.last())

	for _, ph := range res.Phases {
		from, to, ok := rec.span(ph.Name)
		if !ok || ph.Requests == 0 {
			t.Fatalf("phase %s: no intervals", ph.Name)
		}
		// The phase's own figures: the cumulative histogram at the end of
		// its last interval less the one at the end of the interval before
		// it. Prometheus 2.42 cannot subtract native histograms, but
		// increase over exactly that range (closed at both ends before 3.0)
		// is the same difference, and a quantile ignores extrapolation.
		// The range reaches 2 ms past the end: a last interval shorter
		// than a millisecond is stamped a millisecond after the one before
		// (remote write keeps each series' samples in time order).
		at := to.Add(2 * time.Millisecond)
		expr := fmt.Sprintf(`histogram_quantile(0.99, sum(faultline_request_latency_seconds{job="faultline"} @ %.3f))`, secs(at))
		if !from.IsZero() {
			expr = fmt.Sprintf(`histogram_quantile(0.99, sum(increase(faultline_request_latency_seconds{job="faultline"}[%dms] @ %.3f)))`,
				at.UnixMilli()-from.UnixMilli(), secs(at)) // in whole milliseconds, as stamped
		}
		r := query(t, prom, expr, rec.last())
		if len(r) != 1 {
			t.Fatalf("%s: %v", expr, r)
		}
		got := r[0]
		want := ph.P99 / 1e9
		t.Logf("phase %s: PromQL p99 %.3f ms, faultline p99 %.3f ms (ratio %.4f)", ph.Name, got*1e3, want*1e3, got/want)
		if ratio := got / want; ratio > Factor*1.001 || ratio < 1/(Factor*1.001) {
			t.Errorf("phase %s: PromQL p99 %g s, faultline's %g s: ratio %.4f beyond the bucket factor %.4f", ph.Name, got, want, ratio, Factor)
		}
	}
}

// checkDashboard runs every query of dashboards/faultline.json (panels and
// annotations, its variables set to match everything) against the server:
// each must parse, and each must find data at some point of the run, but
// the transport errors' (this run has none).
func checkDashboard(t *testing.T, prom string, at time.Time) {
	t.Helper()
	b, err := os.ReadFile("../../dashboards/faultline.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Annotations struct {
			List []struct {
				Name string `json:"name"`
				Expr string `json:"expr"`
			} `json:"list"`
		} `json:"annotations"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	exprs := map[string]string{}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs[tg.Expr] = "panel " + p.Title
		}
	}
	for _, a := range dash.Annotations.List {
		if a.Expr != "" {
			exprs[a.Expr] = "annotation " + a.Name
		}
	}
	vars := strings.NewReplacer("$job", ".*", "$request", ".*", "$__rate_interval", "5s")
	for expr, where := range exprs {
		q := vars.Replace(expr)
		// A histogram result has no max_over_time, a fault no value at the
		// end: either way of finding data will do.
		if len(query(t, prom, q, at)) == 0 && len(query(t, prom, "max_over_time(("+q+")[1m:1s])", at)) == 0 &&
			!strings.Contains(q, "transport_errors") {
			t.Errorf("%s: %s: no data", where, q)
		}
	}
}

// recordingSink passes intervals on to the Live and notes where each
// phase's intervals end, for the queries.
type recordingSink struct {
	live *Live
	mu   sync.Mutex
	ends []phaseEnd
}

type phaseEnd struct {
	phase string
	end   time.Time
}

func (r *recordingSink) Interval(iv *loadgen.Stats, phase string, faults []string) {
	r.live.Interval(iv, phase, faults)
	r.mu.Lock()
	r.ends = append(r.ends, phaseEnd{phase, iv.End})
	r.mu.Unlock()
}

// span is the end of the interval before phase's first (zero for the
// first phase) and the end of its last.
func (r *recordingSink) span(phase string) (from, to time.Time, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, e := range r.ends {
		if e.phase != phase {
			continue
		}
		if !ok && i > 0 {
			from = r.ends[i-1].end
		}
		ok, to = true, e.end
	}
	return from, to, ok
}

func (r *recordingSink) last() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ends[len(r.ends)-1].end
}

func secs(t time.Time) float64 { return float64(t.UnixMilli()) / 1e3 }

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startPrometheus starts a Prometheus server on a loopback port that
// scrapes target every second, takes remote write and native histograms,
// and is stopped (its data removed) when the test ends. It returns its URL.
func startPrometheus(t *testing.T, bin, target string) string {
	t.Helper()
	dir := t.TempDir()
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: scrape
    static_configs:
      - targets: [%q]
`, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr,
		"--web.enable-remote-write-receiver", "--enable-feature=native-histograms")
	logFile, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			t.Logf("prometheus log:\n%s", b)
		}
	})
	u := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(u + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return u
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus at %s not ready after 20s: %v", u, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// query runs an instant PromQL query at ts and returns each result's value
// (a histogram's count for a histogram result).
func query(t *testing.T, prom, expr string, ts time.Time) []float64 {
	t.Helper()
	v := url.Values{"query": {expr}, "time": {strconv.FormatFloat(float64(ts.UnixMilli())/1e3+1, 'f', 3, 64)}}
	resp, err := http.Get(prom + "/api/v1/query?" + v.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value     []any `json:"value"`
				Histogram []any `json:"histogram"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.Status != "success" {
		t.Fatalf("%s: %s", expr, body.Error)
	}
	var out []float64
	for _, r := range body.Data.Result {
		switch {
		case len(r.Value) == 2:
			f, _ := strconv.ParseFloat(r.Value[1].(string), 64)
			out = append(out, f)
		case len(r.Histogram) == 2:
			h, _ := r.Histogram[1].(map[string]any)
			f, _ := strconv.ParseFloat(fmt.Sprint(h["count"]), 64)
			out = append(out, f)
		default:
			out = append(out, math.NaN())
		}
	}
	return out
}
