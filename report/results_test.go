package report

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
	info, err := NewRunInfo("faultline test", loadgen.Open, start, 1500*time.Millisecond, 200, map[string]any{"rate": 200})
	if err != nil {
		t.Fatal(err)
	}
	w, err := CreateResults(path, info)
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
	if err := w.Close(res.End, Summarize(res, nil)); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	back, err := ReadResults(f, path)
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
	info, _ := NewRunInfo("t", loadgen.Open, time.Now(), time.Second, 1, nil)
	w, err := CreateResults(filepath.Join(dir, "r.json"), info)
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

func TestReadResultsRejectsBadFiles(t *testing.T) {
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
		_, err := ReadResults(strings.NewReader(c.content), "r.json")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestWriteSummary(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1700000000, 0)
	total := loadgen.NewStats(t0, t0.Add(10*time.Second))
	res := &loadgen.Result{Model: loadgen.Open, Start: t0, End: t0.Add(10 * time.Second), Planned: 10 * time.Second,
		Total: total, TargetRate: 100, Sent: 0, Generator: loadgen.GeneratorHealth{CPU: time.Second, Cores: 2, Utilization: 0.05}}
	var buf bytes.Buffer
	if err := WriteSummary(&buf, Summarize(res, nil)); err != nil {
		t.Fatal(err)
	}
	golden(t, "summary-empty.txt", buf.Bytes())
}

// TestSummaryAccountsForEveryFailure: 600 of 3000 requests failed with a
// 400 (a wrong body): the summary must say so where it says "600 failed",
// not "errors none", and show the body that says why.
func TestSummaryAccountsForEveryFailure(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1700000000, 0)
	ivs := syntheticStats(5, t0, 1, func(int) sampleSpec {
		return sampleSpec{names: []string{"create", "list"}, perName: 1500, medianNs: 1e6, sigma: 0.2, failEach: 5, timeouts: []string{"list"}}
	})
	total := ivs[0]
	total.AddFailure(loadgen.FailureSample{Name: "create", Status: 400, Body: `{"error":"missing field \"sku\""}`})
	res := &loadgen.Result{Model: loadgen.Open, Start: t0, End: t0.Add(time.Second), Planned: time.Second,
		Total: total, TargetRate: 3000, Sent: 3000}
	var buf bytes.Buffer
	if err := WriteSummary(&buf, Summarize(res, nil)); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"600 failed (20%)",
		"failed        600 = 300 with an error status (503: 300) + 300 with no response (timeout: 300)",
		"  503: 300\n", "  timeout: 300\n",
		`create  503      {"error":"store unavailable","request":4}\n`,
		"list    timeout  read tcp",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "errors        none") {
		t.Errorf("summary says no errors beside 600 failed:\n%s", out)
	}
}
