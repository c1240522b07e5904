package estimate_test

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/estimate"
	"github.com/faultline-dev/faultline/loadgen"
)

// refusingServer answers 200 to one request in every `every` and 429 to
// the others, as a rate limiter refusing a known share would.
func refusingServer(t *testing.T, every int64) *httptest.Server {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1)%every != 0 {
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestSweepAgainstARefusingTarget sweeps, with the load engine, a server
// that refuses 90% of requests with 429. The refusals are fast, so the
// latency objective alone would hold at every step and the responses would
// read as capacity (issue 10). The sweep must stop at the first step, say
// that the error rate broke the objective and why, count only the
// successful 10% as throughput and report no capacity.
func TestSweepAgainstARefusingTarget(t *testing.T) {
	t.Parallel()
	srv := refusingServer(t, 10)
	target, err := loadgen.NewTarget("GET", srv.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	opts, err := estimate.ParseCapacityOptions("p99<1s", "1000/s", "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	steps, err := estimate.ParseSweepSpec("1,2,4", "", 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := estimate.Sweep(ctx, steps, opts.SLOs, estimate.LoadStep(target, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Steps) != 1 {
		t.Fatalf("ran %d steps, want the sweep to stop after the first", len(res.Steps))
	}
	r := res.Steps[0].Result
	if r.Count < 100 {
		t.Fatalf("only %d requests completed in the step: too few to judge", r.Count)
	}
	if got := r.ErrorRate(); math.Abs(got-0.9) > 0.01 {
		t.Errorf("error rate %.3f, want 0.9", got)
	}
	if ratio := r.Successful / r.Achieved; math.Abs(ratio-0.1) > 0.01 {
		t.Errorf("successful %.1f/s of achieved %.1f/s (%.3f), want a tenth", r.Successful, r.Achieved, ratio)
	}
	if r.ErrorKinds["HTTP 429"] != r.Errors {
		t.Errorf("error kinds %v, want all %d errors as HTTP 429", r.ErrorKinds, r.Errors)
	}
	rep := res.Report(opts)
	if rep.Capacity != nil || rep.Instances != nil {
		t.Errorf("capacity %+v, instances %+v: want none when 90%% of requests fail", rep.Capacity, rep.Instances)
	}
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, want := range []string{
		"stopped after step 1 of 3: error rate 9",
		"% (HTTP 429 ×",
		"breaks error_rate<1%",
		"the SLO failed at the first step",
		"no per-instance capacity",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "held at every step") || strings.Contains(text, "capacity  ") {
		t.Errorf("report claims a capacity:\n%s", text)
	}
}

// TestSweepToleratesErrorsWithinTheObjective: a server refusing one
// request in 1,000 stays within error_rate<1%, so every step runs.
func TestSweepToleratesErrorsWithinTheObjective(t *testing.T) {
	t.Parallel()
	srv := refusingServer(t, 2)
	target, err := loadgen.NewTarget("GET", srv.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	// Half refused, but the user allows up to 60%.
	slos, err := estimate.ParseSLOs("error_rate<60%")
	if err != nil {
		t.Fatal(err)
	}
	steps, _ := estimate.ParseSweepSpec("1,2", "", 200*time.Millisecond)
	res, err := estimate.Sweep(context.Background(), steps, slos, estimate.LoadStep(target, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Steps) != 2 || res.Stopped != "" {
		t.Fatalf("ran %d steps, stopped %q; want both steps", len(res.Steps), res.Stopped)
	}
}
