package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report"
	"github.com/faultline-dev/faultline/report/results"
)

// writeResults writes a results file of n one-second intervals of 200
// requests to "GET /" with log-normal latency around medianMs, as `faultline
// load --out` would, and returns its path.
func writeResults(t *testing.T, dir, name string, seed uint64, n int, medianMs float64, thresholds ...string) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	start := time.Date(2024, 3, 1, 12, 0, 0, 250_000_000, time.UTC)
	path := filepath.Join(dir, name)
	info, err := results.NewHeader("faultline test", loadgen.Open, start, time.Duration(n)*time.Second, 200, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := results.Create(path, info)
	if err != nil {
		t.Fatal(err)
	}
	total := loadgen.NewStats(start, start)
	var ivs []*loadgen.Stats
	for i := range n {
		s := start.Add(time.Duration(i) * time.Second)
		iv := loadgen.NewStats(s, s.Add(time.Second))
		ok := &loadgen.Series{Name: "GET /", Outcome: loadgen.OK, Latency: loadgen.NewHistogram(), Service: loadgen.NewHistogram(),
			Status: map[int]int64{200: 200}, Errors: map[loadgen.ErrorClass]int64{}}
		for range 200 {
			v := int64(medianMs * 1e6 * math.Exp(0.4*rng.NormFloat64()))
			_ = ok.Latency.RecordValue(v)
			_ = ok.Service.RecordValue(v)
		}
		iv.Series = []*loadgen.Series{ok}
		iv.Scheduled = 200
		w.WriteInterval(iv)
		total.Merge(iv)
		ivs = append(ivs, iv)
	}
	var ts []*loadgen.Threshold
	for _, src := range thresholds {
		th, err := loadgen.ParseThreshold(src)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, th)
	}
	ev := loadgen.NewEvaluator(ts)
	for _, iv := range ivs {
		ev.Observe(iv)
	}
	end := start.Add(time.Duration(n) * time.Second)
	res := &loadgen.Result{Model: loadgen.Open, Start: start, End: end, Planned: end.Sub(start), Total: total, TargetRate: 200, Sent: total.Scheduled}
	if err := w.Close(end, report.Summarize(res, ev.Results(total))); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReportFormats(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := writeResults(t, dir, "r.json", 1, 4, 5, "p99<1s")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"report", in}, "phase load  +0s..+4s"},
		{[]string{"report", in, "--format", "text"}, "the check held"},
		{[]string{"report", in, "--format", "hgrm"}, "#[Buckets ="},
		{[]string{"report", in, "--format", "hgrm", "--unit", "us", "--request", "GET /", "--phase", "load"}, "Value     Percentile"},
		{[]string{"report", in, "--format", "hlog"}, "#[BaseTime: 1709294400.250 (seconds since epoch)]"},
		{[]string{"report", in, "--format", "json"}, `"schema": "faultline/report"`},
		{[]string{"report", in, "--format", "csv", "--unit", "s"}, "p50_s"},
		{[]string{"report", in, "--format", "junit"}, `<testcase name="p99&lt;1s" classname="faultline.load"`},
		{[]string{"report", in, "--format", "markdown"}, "✅ **the check held**"},
		{[]string{"report", in, "--format", "html"}, "<!DOCTYPE html>"},
	}
	for _, c := range cases {
		code, stdout, stderr := runCLI(t, c.args...)
		if code != 0 || stderr != "" {
			t.Errorf("%v: exit %d, stderr %q", c.args, code, stderr)
		}
		if !strings.Contains(stdout, c.want) {
			t.Errorf("%v: output lacks %q:\n%.600s", c.args, c.want, stdout)
		}
	}
}

// TestReportOutputFile writes with -o: the format follows the extension,
// the file is complete and readable by others, nothing goes to stdout.
func TestReportOutputFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := writeResults(t, dir, "r.json", 1, 3, 5)
	for ext, want := range map[string]string{".html": "<!DOCTYPE html>", ".md": "## faultline:", ".xml": "<testsuites", ".csv": "start,start_s",
		".hgrm": "#[Mean", ".hlog": "#[Histogram log format version 1.3]", ".txt": "phase load", ".out": "phase load"} {
		out := filepath.Join(dir, "report"+ext)
		code, stdout, stderr := runCLI(t, "report", in, "-o", out)
		if code != 0 || stdout != "" || stderr != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", ext, code, stdout, stderr)
		}
		b, err := os.ReadFile(out)
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s: %v, file does not hold %q", ext, err, want)
		}
		if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, %v", ext, fi.Mode(), err)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("a temporary file was left behind: %s", e.Name())
		}
	}
}

// TestReportBadInputExits2: one clear line naming the file and what is
// wrong with it, exit 2, nothing on stdout.
func TestReportBadInputExits2(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := writeResults(t, dir, "good.json", 1, 3, 5)
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notJSON := file("notes.txt", "hello")
	other := file("k6.json", `{"schema":"k6/summary","metrics":{}}`)
	newer := file("newer.json", strings.Replace(string(raw), fmt.Sprintf(`"version":%d`, results.Version), `"version":7`, 1))
	truncated := file("truncated.json", string(raw[:len(raw)*2/3]))
	missing := filepath.Join(dir, "missing.json")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"report", notJSON}, notJSON + ": not a faultline results file or experiment journal: not JSON"},
		{[]string{"report", other}, other + `: not a faultline results file or experiment journal (schema "k6/summary")`},
		{[]string{"report", newer}, newer + ": results version 7 is not supported"},
		{[]string{"report", truncated}, truncated + ": truncated"},
		{[]string{"report", missing}, missing},
		{[]string{"report", good, "--format", "pdf"}, `--format "pdf": want one of ` + strings.Join(report.FormatNames(), ", ")},
		{[]string{"report", good, "--unit", "min"}, `--unit "min"`},
		{[]string{"report", good, "--format", "hgrm", "--request", "GET /nope"}, `no request named "GET /nope"`},
		{[]string{"report", good, "--format", "hgrm", "--phase", "fault"}, `no phase named "fault"`},
		{[]string{"report"}, "accepts 1 arg"},
		{[]string{"report", "compare", good, truncated}, truncated + ": truncated"},
		{[]string{"report", "compare", good, good, "--fail-on", "p99>10%"}, "--fail-on"},
		{[]string{"report", "compare", good, good, "--fail-on", "GET /x:p99:+10%"}, `no request named "GET /x"`},
		{[]string{"report", "compare", good, good, "--format", "html"}, `--format "html"`},
		{[]string{"report", "compare", good}, "accepts 2 arg"},
		{[]string{"report", "merge", good, newer, "-o", filepath.Join(dir, "m.json")}, newer + ": results version 7"},
		{[]string{"report", "merge", good, other, "-o", filepath.Join(dir, "m.json")}, other + ": not a faultline results file"},
		{[]string{"report", "merge", good, good}, "merge needs -o"},
		{[]string{"report", "merge", good, "-o", filepath.Join(dir, "m.json")}, "requires at least 2 arg"},
	}
	for _, c := range cases {
		code, stdout, stderr := runCLI(t, c.args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", c.args, code, stderr)
		}
		if !strings.Contains(stderr, c.want) {
			t.Errorf("%v: stderr %q does not say %q", c.args, stderr, c.want)
		}
		if strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%v: want one line of error, got %q", c.args, stderr)
		}
		if stdout != "" {
			t.Errorf("%v: printed %q", c.args, stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "m.json")); !os.IsNotExist(err) {
		t.Errorf("a failed merge left a file: %v", err)
	}
}

// TestReportCompareGate: a run 40% slower fails a 10% p99 gate (exit 1,
// with the table printed); the same run against itself passes.
func TestReportCompareGate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := writeResults(t, dir, "base.json", 1, 10, 5)
	same := writeResults(t, dir, "same.json", 2, 10, 5)
	slow := writeResults(t, dir, "slow.json", 3, 10, 7)

	code, stdout, stderr := runCLI(t, "report", "compare", base, slow, "--fail-on", "p99:+10%", "--fail-on", "p50:+1s")
	if code != 1 || stderr != "" {
		t.Errorf("slow: exit %d, stderr %q; want 1", code, stderr)
	}
	for _, want := range []string{"noise: 95% bootstrap interval", "phase load", "GET /    p50", "beyond noise",
		"FAILED  p99:+10%  (p99 of all requests in load: +", "held    p50:+1s  (p50 of all requests in load: +"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("slow: output lacks %q:\n%s", want, stdout)
		}
	}

	code, stdout, _ = runCLI(t, "report", "compare", base, same, "--fail-on", "p99:+10%")
	if code != 0 || !strings.Contains(stdout, "held    p99:+10%") || strings.Contains(stdout, "  beyond noise\n") {
		t.Errorf("same distribution: exit %d:\n%s", code, stdout)
	}

	out := filepath.Join(dir, "cmp.json")
	code, stdout, _ = runCLI(t, "report", "compare", base, slow, "--fail-on", "p99:+10%", "--format", "json", "-o", out)
	if code != 1 || !strings.HasPrefix(stdout, "gates\n  FAILED  p99:+10%") {
		t.Errorf("json to a file: exit %d, stdout %q", code, stdout)
	}
	var doc struct {
		Schema string `json:"schema"`
		Gates  []struct {
			Failed bool `json:"failed"`
		} `json:"gates"`
	}
	if b, err := os.ReadFile(out); err != nil || json.Unmarshal(b, &doc) != nil || doc.Schema != "faultline/compare" || len(doc.Gates) != 1 || !doc.Gates[0].Failed {
		t.Errorf("comparison file: %v %+v", err, doc)
	}
}

func TestReportMerge(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := writeResults(t, dir, "a.json", 1, 5, 5, "p99<1s")
	b := writeResults(t, dir, "b.json", 2, 5, 5, "requests<1500")
	out := filepath.Join(dir, "all.json")
	code, stdout, stderr := runCLI(t, "report", "merge", a, b, "-o", out)
	// Each generator sent 1000 requests: merged, requests<1500 fails.
	if code != 1 || stderr != "" {
		t.Errorf("exit %d, stderr %q; want 1 from the merged threshold", code, stderr)
	}
	for _, want := range []string{"2000 completed", "target 400.0/s", "held    p99<1s", "FAILED  requests<1500  (requests = 2000)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("merge summary lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, stderr = runCLI(t, "report", out, "--format", "json")
	if code != 0 || stderr != "" {
		t.Fatalf("the merged file does not render: exit %d, %s", code, stderr)
	}
	var doc report.ReportJSON
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || doc.Total.All.Count != 2000 || len(doc.Intervals) != 5 {
		t.Errorf("merged report: %v, %d requests, %d intervals", err, doc.Total.All.Count, len(doc.Intervals))
	}
}
