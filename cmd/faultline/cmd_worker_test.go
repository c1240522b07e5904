package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/faultline-dev/faultline/internal/distrib"
	"github.com/faultline-dev/faultline/internal/testenv"
)

// exitCode runs cmd and returns its exit status.
func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// TestLoadGeneratorsJudgeTheMerge: 'load --generators 3' starts three
// worker processes; a global threshold that holds on each worker's share
// (4 errors each) fails on the merged run (12), which counts the
// schedule's every request, and the results file says so.
func TestLoadGeneratorsJudgeTheMerge(t *testing.T) {
	bin := testenv.BuildFaultline(t)
	var n atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%25 == 0 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer target.Close()
	out := filepath.Join(t.TempDir(), "results.json")
	cmd := exec.Command(bin, "load", target.URL, "--rate", "150/s", "--duration", "2s", "--generators", "3",
		"--threshold", "errors<10", "--out", out)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if code := exitCode(t, cmd); code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "FAILED  errors<10") || !strings.Contains(stdout.String(), "Generators:   3 workers") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Options struct{ Generators int } `json:"options"`
		Summary struct {
			Requests, Failed int64
			Degraded         bool
			Generators       []distrib.WorkerReport
		} `json:"summary"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	s := file.Summary
	if s.Requests != 300 || s.Failed != 12 || s.Degraded || len(s.Generators) != 3 || file.Options.Generators != 3 {
		t.Fatalf("summary: %d requests, %d failed, degraded %v, %d generators (options %d)", s.Requests, s.Failed, s.Degraded, len(s.Generators), file.Options.Generators)
	}
	for _, g := range s.Generators {
		if g.Failed >= 10 || g.Requests != 100 {
			t.Errorf("worker %s: %d requests, %d failed: its own share should have held errors<10", g.Name, g.Requests, g.Failed)
		}
	}
}

// TestLoadWorkersOneKilled: with --workers, a worker killed mid-run is
// reported by segment and the run exits 5 (degraded), still with its
// thresholds' verdict.
func TestLoadWorkersOneKilled(t *testing.T) {
	bin := testenv.BuildFaultline(t)
	tok, err := distrib.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	var procs []*exec.Cmd
	for i := range 3 {
		w := exec.Command(bin, "worker", "--listen", "127.0.0.1:0")
		w.Env = append(os.Environ(), distrib.TokenEnv+"="+tok)
		pipe, err := w.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = w.Process.Kill(); _ = w.Wait() })
		sc := bufio.NewScanner(pipe)
		if !sc.Scan() {
			t.Fatalf("worker %d printed nothing", i)
		}
		urls = append(urls, strings.TrimPrefix(sc.Text(), distrib.ListeningPrefix))
		procs = append(procs, w)
	}
	var n atomic.Int64
	var kill sync.Once
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 350 {
			kill.Do(func() { _ = procs[2].Process.Kill() })
		}
	}))
	defer target.Close()
	cmd := exec.Command(bin, "load", target.URL, "--rate", "200/s", "--duration", "3s",
		"--workers", strings.Join(urls, ","), "--threshold", "p99<10s")
	cmd.Env = append(os.Environ(), distrib.TokenEnv+"="+tok)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if code := exitCode(t, cmd); code != 5 {
		t.Fatalf("exit %d, want 5\n%s%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"held    p99<10s", "segment 2/3  DIED", "DEGRADED:     segment 2/3 lost;"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	if !strings.Contains(stderr.String(), "degraded run: lost") {
		t.Errorf("stderr: %s", stderr.String())
	}
}

// TestLoadGeneratorsUsage: the generators' flags are checked before
// anything starts.
func TestLoadGeneratorsUsage(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--generators", "2", "--segment", "0/2"}, "--segment is for one generator"},
		{[]string{"--workers", "http://127.0.0.1:1"}, "$" + distrib.TokenEnv + " is empty"},
		{[]string{"--generators", "-1"}, "--generators -1"},
		{[]string{"--worker-timeout", "0s", "--generators", "2"}, "--worker-timeout"},
		{[]string{"--generators", "2", "--on", "moon"}, "--on \"moon\""},
		{[]string{"--on", "kubernetes"}, "give --generators N"},
		{[]string{"--workers", "http://127.0.0.1:1", "--on", "kubernetes"}, "exclude each other"},
	} {
		args := append([]string{"load", "http://127.0.0.1:1/", "--rate", "1/s", "--duration", "1s"}, c.args...)
		code, _, stderr := runCLI(t, args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
	code, _, stderr := runCLI(t, "worker", "--listen", "127.0.0.1:0")
	if code != 2 || !strings.Contains(stderr, distrib.TokenEnv) {
		t.Errorf("worker without a token: exit %d, stderr %q", code, stderr)
	}
}

// TestRunGeneratorsUsage: run's generator flags are checked before
// anything starts.
func TestRunGeneratorsUsage(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "x.yaml")
	src := "name: x\nload:\n  rate: 10/s\n  requests:\n    - url: http://127.0.0.1:1/\nphases:\n  - name: a\n    duration: 1s\n"
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--on", "kubernetes"}, "give --generators N (or load.generators)"},
		{[]string{"--generators", "2", "--on", "moon"}, `--on "moon"`},
		{[]string{"--generators", "-1"}, "--generators -1"},
	} {
		code, _, stderr := runCLI(t, append([]string{"run", file}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
}
