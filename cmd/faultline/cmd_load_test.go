package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLoadBadInputExits2(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"load", "http://127.0.0.1:1/", "--rate", "abc", "--duration", "1s"}, "--rate"},
		{[]string{"load", "http://127.0.0.1:1/", "--rate", "100", "--duration", "1s"}, "no unit"},
		{[]string{"load", "http://127.0.0.1:1/", "--rate", "100/s", "--duration", "-5s"}, "--duration -5s: must be positive"},
		{[]string{"load", "http://127.0.0.1:1/", "--rate", "100/s", "--duration", "1s", "--body", filepath.Join(dir, "nope.json")}, "--body"},
		{[]string{"load", "http://127.0.0.1:1/", "--rate", "100/s"}, "--duration is required"},
		{[]string{"load", "http://127.0.0.1:1/", "--duration", "1s"}, "give --rate"},
		{[]string{"load", "http://127.0.0.1:1/", "--rate", "10/s", "--concurrency", "2", "--duration", "1s"}, "exclude each other"},
		{[]string{"load", "http://127.0.0.1:1/", "--rate", "10/s", "--duration", "1s", "--threshold", "latency<1s"}, "unknown metric"},
		{[]string{"load", "ftp://127.0.0.1:1/", "--rate", "10/s", "--duration", "1s"}, "scheme must be http or https"},
		{[]string{"load", "--targets", filepath.Join(dir, "missing.txt"), "--rate", "10/s", "--duration", "1s"}, "--targets"},
		{[]string{"load", "http://127.0.0.1:1/", "--rate", "10/s", "--duration", "1s", "--bogus"}, "unknown flag"},
		{[]string{"load", "http://127.0.0.1:1/", "--rate", "10/s", "--duration", "1s", "--timeout", "soon"}, "timeout"},
		{[]string{"load", "http://127.0.0.1:1/", "--concurrency", "2", "--think-time", "x", "--duration", "1s"}, "--think-time"},
		{[]string{"load", "http://127.0.0.1:1/", "--rate", "1e8/s", "--duration", "2s"}, "above 1M/s, the most one generator schedules"},
		{[]string{"load", "http://127.0.0.1:1/", "--rate", "0/s", "--duration", "2s"}, "--rate 0/s: must be above zero"},
		{[]string{"load", "http://127.0.0.1:1/", "--stage", "1s:10", "--stage", "1s:10/s"}, `stage "1s:10/s" targets a rate but stage "1s:10" targets users`},
		{[]string{"load", "http://127.0.0.1:1/", "--rate", "10/s", "--stage", "1s:10"}, "--stage 1s:10 targets users, but this load is open-model"},
		{[]string{"load", "http://127.0.0.1:1/", "--concurrency", "2", "--stage", "1s:10/s"}, "targets a rate, but this load is closed-model"},
		{[]string{"load", "http://127.0.0.1:1/", "--rate", "10/s", "--duration", "1s", "--segment", "3/3"}, "--segment: segment 3/3: the index must be from 0 to 2"},
		{[]string{"load", "https://127.0.0.1:1/", "--rate", "10/s", "--duration", "1s", "--engine", "epoll"}, "engine epoll"},
		{[]string{"load", "http://127.0.0.1:1/", "--rate", "10/s", "--duration", "1s", "--engine", "threads"}, "unknown engine"},
	}
	for _, c := range cases {
		code, stdout, stderr := runCLI(t, c.args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", c.args, code, stderr)
		}
		if !strings.Contains(stderr, c.want) {
			t.Errorf("%v: stderr %q does not mention %q", c.args, stderr, c.want)
		}
		if strings.Count(strings.TrimSpace(stderr), "\n") > 0 && !strings.Contains(c.want, "metric") {
			t.Errorf("%v: want one line of error, got %q", c.args, stderr)
		}
		if stdout != "" {
			t.Errorf("%v: printed a summary for a run that must not start: %q", c.args, stdout)
		}
	}
}

func TestLoadThresholdsDecideTheExitCode(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond)
	}))
	defer srv.Close()
	dir := t.TempDir()
	out, hgrm := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.hgrm")
	code, stdout, stderr := runCLI(t, "load", srv.URL+"/", "--rate", "100/s", "--duration", "1s",
		"--threshold", "p99<2s", "--threshold", "error_rate<1%", "--out", out, "--hgrm", hgrm)
	if code != 0 {
		t.Fatalf("exit %d, want 0; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "held    p99<2s") || !strings.Contains(stdout, "latency measured from each request's intended start") {
		t.Errorf("summary:\n%s", stdout)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil || doc["schema"] != "faultline/results" {
		t.Errorf("results file: %v, schema %v", err, doc["schema"])
	}
	if b, err := os.ReadFile(hgrm); err != nil || !strings.Contains(string(b), "#[Buckets =") {
		t.Errorf("hgrm file: %v", err)
	}

	code, stdout, _ = runCLI(t, "load", srv.URL+"/", "--rate", "100/s", "--duration", "1s", "--threshold", "p50<1ms")
	if code != 1 {
		t.Errorf("failing threshold: exit %d, want 1", code)
	}
	if !strings.Contains(stdout, "FAILED  p50<1ms  (p50 = ") {
		t.Errorf("failing threshold line missing:\n%s", stdout)
	}
}

// A segment sends exactly its share: of 300 requests, the ones numbered
// 1, 4, ..., 298.
func TestLoadSegmentSendsItsShare(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	code, stdout, stderr := runCLI(t, "load", srv.URL+"/", "--rate", "300/s", "--duration", "1s", "--segment", "1/3")
	if code != 0 {
		t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if n := hits.Load(); n != 100 {
		t.Errorf("segment 1/3 of 300 requests sent %d, want 100", n)
	}
}

// Three generators, one segment each, send the schedule once between them,
// and their results files merge into the one run.
func TestLoadSegmentsMergeIntoTheSchedule(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	dir := t.TempDir()
	var wg sync.WaitGroup
	outs := make([]string, 3)
	for i := range outs {
		outs[i] = filepath.Join(dir, fmt.Sprintf("g%d.json", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, stdout, stderr := runCLI(t, "load", srv.URL+"/", "--stage", "1s:400/s", "--stage", "500ms:0/s", "--segment", fmt.Sprintf("%d/3", i), "--out", outs[i])
			if code != 0 || !strings.Contains(stdout, "of 100 scheduled") {
				t.Errorf("segment %d/3: exit %d; stdout:\n%s\nstderr:\n%s", i, code, stdout, stderr)
			}
		}()
	}
	wg.Wait()
	// The ramp plans 200 + 100 requests: 100 per segment.
	if n := hits.Load(); n != 300 {
		t.Errorf("three segments sent %d requests, want the schedule's 300", n)
	}
	merged := filepath.Join(dir, "merged.json")
	code, stdout, stderr := runCLI(t, append([]string{"report", "merge", "-o", merged}, outs...)...)
	if code != 0 || !strings.Contains(stdout, "of 300 scheduled") {
		t.Errorf("merge: exit %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

func TestLoadUnreachableTargetExits5(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	code, stdout, stderr := runCLI(t, "load", "http://"+addr+"/", "--rate", "50/s", "--duration", "1s")
	if code != 5 {
		t.Errorf("exit %d, want 5; stderr %q", code, stderr)
	}
	if !strings.Contains(stdout, "refused: 50") {
		t.Errorf("summary does not classify the errors:\n%s", stdout)
	}
	if !strings.Contains(stderr, "unreachable") {
		t.Errorf("stderr %q", stderr)
	}
}

func TestVersionAndHelp(t *testing.T) {
	t.Parallel()
	code, stdout, _ := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(stdout, "faultline ") {
		t.Errorf("version: exit %d, %q", code, stdout)
	}
	code, stdout, _ = runCLI(t, "load", "--help")
	if code != 0 || !strings.Contains(stdout, "EXIT STATUS") || !strings.Contains(stdout, "--max-in-flight") {
		t.Errorf("load --help: exit %d\n%s", code, stdout)
	}
	if code, _, _ := runCLI(t, "no-such-command"); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
}

// TestLoadMetricsAddrInUse: a --metrics-addr port already taken is exit 2,
// naming the flag, before any request reaches the target (issue 13).
func TestLoadMetricsAddrInUse(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, run := range [][]string{
		{"load", srv.URL, "--rate", "100/s", "--duration", "1s"},
		{"run", "../../examples/quickstart.yaml", "--time-scale", "0.01"},
	} {
		args := append(run, "--metrics-addr", taken.Addr().String())
		code, stdout, stderr := runCLI(t, args...)
		if code != 2 || !strings.Contains(stderr, "--metrics-addr "+taken.Addr().String()) || !strings.Contains(stderr, "in use") {
			t.Errorf("%v: exit %d, stderr %q: want 2 naming --metrics-addr", run[0], code, stderr)
		}
		if stdout != "" {
			t.Errorf("%v: printed %q", run[0], stdout)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests reached the target", n)
	}
	code, _, stderr := runCLI(t, "load", srv.URL, "--rate", "100/s", "--duration", "1s", "--prometheus-remote-write", "ftp://127.0.0.1/")
	if code != 2 || !strings.Contains(stderr, "--prometheus-remote-write") {
		t.Errorf("ftp remote write: exit %d, stderr %q", code, stderr)
	}
}
