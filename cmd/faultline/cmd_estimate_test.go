package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// runEstimate runs faultline with args and returns the exit code, stdout
// and stderr.
func runEstimate(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }})
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const classicPlan = "../../examples/estimate/classic.yaml"

func TestEstimateCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	badPlan := writeFile(t, dir, "bad.yaml", "daily_active_users: 10M\nrequest_per_user: 20/day\nrecord_size: 1000\n")
	points := writeFile(t, dir, "points.csv", "concurrency,throughput\n1,1\n2,1.8868\n4,3.0769\n6,3.5294\n8,3.5398\n10,3.3557\n")
	twoPoints := writeFile(t, dir, "two.csv", "n,x\n1,1\n2,2\n")
	badCells := writeFile(t, dir, "cells.csv", "n,x\n1,1\n2,two\n3,3\n4,4\n")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    []string
		wantErr    []string
		wantNotOut string
	}{
		{
			name:     "classic plan",
			args:     []string{"estimate", classicPlan},
			wantCode: 0,
			wantOut: []string{
				"= 200,000,000 / 86,400\n",
				"= 2,314.81 req/s ≈ 2.3 k req/s",
				"= 6,944.44 req/s ≈ 6.9 k req/s",
				"= 5,475,000,000,000 B ≈ 5.5 TB",
				"= 36,000,000,000 B ≈ 36 GB",
				"= ceil(6,944.44 / (500 × 0.7)) + 1 = ceil(19.84) + 1",
				"= 21 instances (N+1)",
			},
		},
		{
			name:     "flags override the plan",
			args:     []string{"estimate", classicPlan, "--redundancy", "N+3", "--target-utilisation", "50%"},
			wantCode: 0,
			// ceil(6,944.44 / 250) + 3 = 28 + 3.
			wantOut: []string{"= 31 instances (N+3)"},
		},
		{
			name:       "flags alone",
			args:       []string{"estimate", "--daily-active-users", "1M", "--requests-per-user", "86.4/day", "--peak-factor", "2x"},
			wantCode:   0,
			wantOut:    []string{"= 1,000 req/s ≈ 1 k req/s", "= 2,000 req/s ≈ 2 k req/s", "STORAGE\n  skipped: needs new_records and record_size"},
			wantNotOut: "INSTANCES\n  instances needed",
		},
		{
			name:     "unknown field and missing unit in a plan",
			args:     []string{"estimate", badPlan},
			wantCode: 2,
			wantErr: []string{
				"faultline: " + badPlan + `:2:1: unknown field "request_per_user" (did you mean "requests_per_user"?)`,
				badPlan + `:3:14: record_size: "1000": missing unit`,
			},
		},
		{
			name:     "bad flag value",
			args:     []string{"estimate", "--daily-active-users", "-3", "--requests-per-user", "1/s"},
			wantCode: 2,
			wantErr:  []string{`faultline: --daily-active-users: "-3": a count cannot be negative`},
		},
		{
			name:     "conflicting flags",
			args:     []string{"estimate", classicPlan, "--headroom", "20%"},
			wantCode: 2,
			wantErr:  []string{"--headroom: give target_utilisation or headroom, not both"},
		},
		{
			name:     "nothing to estimate",
			args:     []string{"estimate", "--latency", "5ms"},
			wantCode: 2,
			wantErr:  []string{"nothing to estimate"},
		},
		{
			name:     "missing plan file",
			args:     []string{"estimate", filepath.Join(dir, "nope.yaml")},
			wantCode: 2,
			wantErr:  []string{"read plan:"},
		},
		{
			name:     "two plans",
			args:     []string{"estimate", classicPlan, classicPlan},
			wantCode: 2,
		},
		{
			name:     "fit",
			args:     []string{"estimate", "fit", points, "--at", "3"},
			wantCode: 0,
			wantOut:  []string{"N* = sqrt((1 - σ) / κ) = sqrt((1 - 0.02001) / 0.02) = 7\n", "X(N*) = 3.571", "dominant   coherency", "  3       1.27s  3.812"},
		},
		{
			name:     "fit with fewer than three points",
			args:     []string{"estimate", "fit", twoPoints},
			wantCode: 2,
			wantErr:  []string{twoPoints + ": 2 points, need at least 3"},
		},
		{
			name:     "fit with a non-numeric cell",
			args:     []string{"estimate", "fit", badCells},
			wantCode: 2,
			wantErr:  []string{badCells + `:3: x: "two" is not a number`},
		},
		{
			name:     "fit with a bad --at",
			args:     []string{"estimate", "fit", points, "--at", "fast"},
			wantCode: 2,
			wantErr:  []string{"--at:"},
		},
		{
			name:     "fit without a file",
			args:     []string{"estimate", "fit"},
			wantCode: 2,
		},
		{
			name:     "sweep without levels",
			args:     []string{"estimate", "sweep", "--step", "1s"},
			wantCode: 2,
			wantErr:  []string{"give --concurrency"},
		},
		{
			name:     "sweep with falling levels",
			args:     []string{"estimate", "sweep", "--concurrency", "4,2"},
			wantCode: 2,
			wantErr:  []string{"--concurrency: 2 after 4: the levels must rise"},
		},
		{
			name:     "sweep of a bare host and port",
			args:     []string{"estimate", "sweep", "127.0.0.1:8080", "--concurrency", "1"},
			wantCode: 2,
			wantErr:  []string{`did you mean "http://127.0.0.1:8080"?`},
		},
		{
			name:     "sweep with a bad SLO",
			args:     []string{"estimate", "sweep", "--concurrency", "1,2,4", "--slo", "p99>1s"},
			wantCode: 2,
			wantErr:  []string{"--slo:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runEstimate(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if tt.wantNotOut != "" && strings.Contains(out, tt.wantNotOut) {
				t.Errorf("stdout has %q:\n%s", tt.wantNotOut, out)
			}
		})
	}
}

// TestEstimateFitFeedsPlan runs the measured path end to end: fit --json
// writes the capacity, and a plan's --instance-capacity-from reads it.
func TestEstimateFitFeedsPlan(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	points := writeFile(t, dir, "points.csv", "n,x\n1,100\n2,190\n4,340\n8,520\n16,610\n24,600\n32,560\n")
	code, out, errOut := runEstimate(t, "estimate", "fit", points, "--json")
	if code != 0 {
		t.Fatalf("fit: exit %d: %s", code, errOut)
	}
	var report struct {
		Fit struct {
			Peak *struct{ N, X float64 } `json:"peak"`
		} `json:"fit"`
		Capacity struct {
			PerInstance float64 `json:"per_instance"`
		} `json:"capacity"`
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("fit --json: %v\n%s", err, out)
	}
	if report.Fit.Peak == nil || report.Capacity.PerInstance < 550 || report.Capacity.PerInstance > 620 {
		t.Fatalf("fit --json: peak %+v, capacity %v", report.Fit.Peak, report.Capacity.PerInstance)
	}
	capFile := writeFile(t, dir, "capacity.json", out)

	code, out, errOut = runEstimate(t, "estimate", "--json",
		"--daily-active-users", "10M", "--requests-per-user", "20/day", "--peak-factor", "3x",
		"--instance-capacity-from", capFile, "--redundancy", "N+1")
	if code != 0 {
		t.Fatalf("plan: exit %d: %s", code, errOut)
	}
	var est struct {
		Sections []struct {
			Lines []struct {
				Key   string  `json:"key"`
				Value float64 `json:"value"`
				Note  string  `json:"note"`
			} `json:"lines"`
		} `json:"sections"`
	}
	if err := json.Unmarshal([]byte(out), &est); err != nil {
		t.Fatalf("estimate --json: %v\n%s", err, out)
	}
	found := false
	for _, s := range est.Sections {
		for _, l := range s.Lines {
			if l.Key != "instances" {
				continue
			}
			found = true
			want := float64(int(6944.444444/report.Capacity.PerInstance) + 1 + 1)
			if l.Value != want || !strings.Contains(l.Note, "capacity.json") {
				t.Errorf("instances = %v (%s), want %v from capacity.json", l.Value, l.Note, want)
			}
		}
	}
	if !found {
		t.Fatalf("no instances line:\n%s", out)
	}
}

// TestEstimateSweepCountsOnlySuccesses sweeps a server that refuses 90% of
// requests with 429, fast: before issue 10's fix the sweep reported the
// refusals as capacity and "SLO held at every step". Now the first step
// breaks the default error objective, the sweep stops there and says why,
// and no capacity is reported.
func TestEstimateSweepCountsOnlySuccesses(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1)%10 != 0 {
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	code, out, errOut := runEstimate(t, "estimate", "sweep", srv.URL+"/", "--concurrency", "1,2,4",
		"--step", "300ms", "--slo", "p99<1s", "--target-peak", "1000/s", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var rep struct {
		Steps []struct {
			Result struct {
				Achieved, Successful float64
				ErrorKinds           map[string]int64 `json:"error_kinds"`
			}
		}
		Stopped  string
		Capacity *struct{ PerInstance float64 } `json:"capacity"`
		SLO      struct{ Found bool }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rep.Steps) != 1 || !strings.HasPrefix(rep.Stopped, "stopped after step 1 of 3: error rate 9") {
		t.Fatalf("%d steps, stopped %q; want a stop after step 1", len(rep.Steps), rep.Stopped)
	}
	s := rep.Steps[0].Result
	if s.Successful <= 0 || s.Successful > s.Achieved/5 || s.ErrorKinds["HTTP 429"] == 0 {
		t.Errorf("step 1: achieved %.1f/s, successful %.1f/s, errors %v", s.Achieved, s.Successful, s.ErrorKinds)
	}
	if rep.Capacity != nil || rep.SLO.Found {
		t.Errorf("capacity %+v, SLO found %v: want none", rep.Capacity, rep.SLO.Found)
	}
}
