package estimate

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// uslSystem is a deterministic model of a system that follows the USL: the
// "run" of a step computes what such a system would deliver. Driving Sweep
// with it tests the sweep arithmetic, not a component.
type uslSystem struct{ sigma, kappa, lambda float64 }

// closed runs a closed-model step: N workers, no think time, so the mean
// latency is N/X by Little's law; the tail is a fixed multiple of it.
func (s uslSystem) closed(_ context.Context, st Step) (StepResult, error) {
	n := float64(st.Concurrency)
	x := USLThroughput(s.sigma, s.kappa, s.lambda, n)
	r := time.Duration(n / x * float64(time.Second))
	return StepResult{
		Offered: x, Achieved: x, Successful: x, Concurrency: st.Concurrency,
		Mean: r, P50: r, P90: r * 3 / 2, P99: 2 * r, P999: 3 * r,
		Count: int64(x * st.Duration.Seconds()),
	}, nil
}

// open runs an open-model step at a fixed rate: below the peak the system
// keeps up and holds N = X·R requests in flight (R from the USL inverse);
// above it, it delivers its peak and the rest is dropped.
func (s uslSystem) open(_ context.Context, st Step) (StepResult, error) {
	x := st.Rate
	nStar := math.Sqrt((1 - s.sigma) / s.kappa)
	peak := USLThroughput(s.sigma, s.kappa, s.lambda, nStar)
	var dropped int64
	if x > peak {
		dropped = int64((x - peak) * st.Duration.Seconds())
		x = peak * 0.999999
	}
	r, err := USLLatency(s.sigma, s.kappa, s.lambda, x)
	if err != nil {
		return StepResult{}, err
	}
	d := time.Duration(r * float64(time.Second))
	return StepResult{Offered: st.Rate, Achieved: x, Successful: x, Mean: d, P50: d, P99: 2 * d, P999: 3 * d, Dropped: dropped}, nil
}

func TestSweepClosedModel(t *testing.T) {
	t.Parallel()
	sys := uslSystem{sigma: 0.05, kappa: 0.0005, lambda: 1000}
	steps, err := ParseSweepSpec("1,2,4,8,16,32,64", "", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Sweep(context.Background(), steps, nil, sys.closed)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Steps) != 7 || res.Fit == nil {
		t.Fatalf("steps %d, fit %v (%s)", len(res.Steps), res.Fit, res.FitError)
	}
	near(t, "sigma", res.Fit.Sigma.Value, sys.sigma, 1e-3)
	near(t, "kappa", res.Fit.Kappa.Value, sys.kappa, 1e-3)
	near(t, "lambda", res.Fit.Lambda.Value, sys.lambda, 1e-3)
	// The rounding of latencies to nanoseconds is the only noise.
	near(t, "N*", res.Fit.Peak.N, math.Sqrt(0.95/0.0005), 1e-3)
}

// TestSweepOpenModel drives rates, so the concurrency of each step comes
// from Little's law (achieved × mean latency) and the fit must still find
// the system's parameters.
func TestSweepOpenModel(t *testing.T) {
	t.Parallel()
	sys := uslSystem{sigma: 0.02, kappa: 0.02, lambda: 100}
	steps, err := ParseSweepSpec("", "50/s,100/s,150/s,200/s,250/s,300/s,340/s,400/s", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Sweep(context.Background(), steps, nil, sys.open)
	if err != nil {
		t.Fatal(err)
	}
	if res.Fit == nil {
		t.Fatalf("no fit: %s", res.FitError)
	}
	near(t, "sigma", res.Fit.Sigma.Value, 0.02, 0.01)
	near(t, "kappa", res.Fit.Kappa.Value, 0.02, 0.01)
	near(t, "lambda", res.Fit.Lambda.Value, 100, 0.001)
	rep := res.Report(CapacityOptions{})
	if rep.Steps[7].Result.Dropped == 0 || !strings.Contains(strings.Join(rep.Warnings, "\n"), "step 8:") {
		t.Errorf("the step above the peak dropped %d requests, warnings %q", rep.Steps[7].Result.Dropped, rep.Warnings)
	}
}

func TestSweepStopsOnErrorAndCancel(t *testing.T) {
	t.Parallel()
	sys := uslSystem{sigma: 0.05, kappa: 0.0005, lambda: 1000}
	steps, _ := ParseSweepSpec("1,2,4,8,16", "", time.Second)
	boom := errors.New("target unreachable")
	res, err := Sweep(context.Background(), steps, nil, func(ctx context.Context, s Step) (StepResult, error) {
		if s.Concurrency == 8 {
			return StepResult{}, boom
		}
		return sys.closed(ctx, s)
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "step 4 (concurrency 8 for 1s)") {
		t.Fatalf("err = %v, want the step's error with its context", err)
	}
	if len(res.Steps) != 3 || res.Fit == nil {
		t.Errorf("partial result: %d steps, fit %v; want 3 steps fitted", len(res.Steps), res.Fit)
	}

	ctx, cancel := context.WithCancel(context.Background())
	res, err = Sweep(ctx, steps, nil, func(ctx context.Context, s Step) (StepResult, error) {
		if s.Concurrency == 2 {
			cancel()
		}
		return sys.closed(ctx, s)
	})
	if !errors.Is(err, context.Canceled) || len(res.Steps) != 2 || res.FitError == "" {
		t.Errorf("cancelled: err %v, %d steps, fit error %q", err, len(res.Steps), res.FitError)
	}
	if _, err := Sweep(context.Background(), nil, nil, sys.closed); err == nil {
		t.Error("no steps: no error")
	}
}

func TestParseSLO(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    SLO
		wantErr string
	}{
		{in: "p99<200ms", want: SLO{Metric: "p99", Threshold: 200 * time.Millisecond}},
		{in: "p99.9 <= 1s", want: SLO{Metric: "p99.9", Inclusive: true, Threshold: time.Second}},
		{in: "P999<1s", want: SLO{Metric: "p99.9", Threshold: time.Second}},
		{in: "mean<50ms", want: SLO{Metric: "mean", Threshold: 50 * time.Millisecond}},
		{in: "median<5ms", want: SLO{Metric: "p50", Threshold: 5 * time.Millisecond}},
		{in: "p90<=2s", want: SLO{Metric: "p90", Inclusive: true, Threshold: 2 * time.Second}},
		{in: "p99>200ms", wantErr: "want the operator < or <="},
		{in: "p98<200ms", wantErr: "unknown metric"},
		{in: "p99<200", wantErr: `limit: value "200": want a duration like 250ms`},
		{in: "P99.90 < 1m30s", want: SLO{Metric: "p99.9", Threshold: 90 * time.Second}},
		{in: "rate<100", wantErr: "unknown metric"},
		{in: "service.p99<1s", wantErr: "unknown metric"},
		{in: "p99<0s", wantErr: "above zero"},
		{in: "p99", wantErr: "want metric<limit"},
		{in: "error_rate<1%", want: SLO{Metric: ErrorRateMetric, MaxShare: 0.01}},
		{in: "errors <= 0.5%", want: SLO{Metric: ErrorRateMetric, Inclusive: true, MaxShare: 0.005}},
		{in: "error_rate<=0%", want: SLO{Metric: ErrorRateMetric, Inclusive: true}},
		{in: "error_rate<0%", wantErr: "write error_rate<=0%"},
		{in: "error_rate<5", wantErr: "limit"},
		{in: "error_rate<0.02", wantErr: "want a percentage such as 1%"},
		{in: "error_rate<150%", wantErr: "between 0% and 100%"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSLO(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func stepsWithP99(points ...[2]float64) []StepRecord {
	var out []StepRecord
	for i, p := range points {
		out = append(out, StepRecord{
			Step:   Step{Concurrency: i + 1},
			Result: StepResult{Achieved: p[0], Successful: p[0], P99: time.Duration(p[1] * float64(time.Millisecond))},
		})
	}
	return out
}

func TestMaxRateUnderSLO(t *testing.T) {
	t.Parallel()
	slo := SLO{Metric: "p99", Threshold: 200 * time.Millisecond}
	tests := []struct {
		name  string
		steps []StepRecord
		want  SLOResult
		basis string
	}{
		{
			name: "interpolated",
			// 150 ms at 800/s, 250 ms at 1,000/s: 200 ms is halfway, 900/s.
			steps: stepsWithP99([2]float64{400, 50}, [2]float64{800, 150}, [2]float64{1000, 250}, [2]float64{1100, 900}),
			want:  SLOResult{MaxRate: 900, Found: true},
			basis: "interpolated between step 2 (p99 150ms at 800 req/s) and step 3 (p99 250ms at 1,000 req/s)",
		},
		{
			name:  "rate fell at the failing step",
			steps: stepsWithP99([2]float64{400, 50}, [2]float64{800, 150}, [2]float64{700, 400}),
			want:  SLOResult{MaxRate: 800, Found: true},
			basis: "step 2; the SLO failed at step 3, whose successful rate did not rise",
		},
		{
			name:  "a later recovery does not count",
			steps: stepsWithP99([2]float64{400, 50}, [2]float64{600, 250}, [2]float64{800, 100}),
			want:  SLOResult{MaxRate: 400 + (200.0-50)*(600-400)/(250-50), Found: true},
		},
		{
			name:  "held throughout",
			steps: stepsWithP99([2]float64{400, 50}, [2]float64{800, 150}),
			want:  SLOResult{MaxRate: 800, Found: true, HeldThroughout: true},
			basis: "a lower bound",
		},
		{
			name:  "failed at once",
			steps: stepsWithP99([2]float64{400, 500}, [2]float64{800, 900}),
			want:  SLOResult{},
			basis: "the SLO failed at the first step",
		},
		{
			name:  "exactly at the limit fails a strict SLO",
			steps: stepsWithP99([2]float64{400, 100}, [2]float64{800, 200}),
			want:  SLOResult{MaxRate: 800, Found: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := MaxRateUnderSLO(tt.steps, slo)
			if got.Found != tt.want.Found || got.HeldThroughout != tt.want.HeldThroughout || math.Abs(got.MaxRate-tt.want.MaxRate) > 1e-9 {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if !strings.Contains(got.Basis, tt.basis) {
				t.Errorf("basis %q lacks %q", got.Basis, tt.basis)
			}
		})
	}
}

// TestSweepReportHardLimit sweeps a system with a hard concurrency limit
// (8 requests at a time, 10 ms each): the knee, the capacity under the SLO
// and the instance count must all find the limit.
func TestSweepReportHardLimit(t *testing.T) {
	t.Parallel()
	const limit, service = 8, 10 * time.Millisecond
	run := func(_ context.Context, s Step) (StepResult, error) {
		x := float64(min(s.Concurrency, limit)) / service.Seconds()
		r := time.Duration(float64(s.Concurrency) / x * float64(time.Second))
		return StepResult{Offered: x, Achieved: x, Successful: x, Concurrency: s.Concurrency, Mean: r, P50: r, P99: r * 3 / 2, P999: 2 * r}, nil
	}
	steps, _ := ParseSweepSpec("1,2,4,8,16,32,64", "", 10*time.Second)
	res, err := Sweep(context.Background(), steps, nil, run)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := ParseCapacityOptions("p99<30ms", "7000/s", "", "30%", "N+1")
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Report(opts)
	if math.Abs(res.Fit.Knee-limit) > 0.2*limit {
		t.Errorf("knee = %v, want the limit %d within 20%%", res.Fit.Knee, limit)
	}
	// p99 is 15 ms up to 8 workers, 30 ms at 16: the SLO breaks at the
	// limit, where the rate no longer rises.
	if rep.Capacity == nil || rep.Capacity.PerInstance != 800 {
		t.Fatalf("capacity = %+v, want 800 req/s", rep.Capacity)
	}
	// ceil(7000 / (800 × 0.7)) + 1 = ceil(12.5) + 1 = 14.
	if rep.Instances == nil || rep.Instances.Value != 14 {
		t.Fatalf("instances = %+v, want 14", rep.Instances)
	}
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "sweep.txt", []byte(b.String()))
}

func TestReportCapacityBasis(t *testing.T) {
	t.Parallel()
	sys := uslSystem{sigma: 0.04, kappa: 0.0024, lambda: 100} // N* = 20
	steps, _ := ParseSweepSpec("1,2,5,10,15,20,25,30", "", time.Second)
	res, err := Sweep(context.Background(), steps, nil, sys.closed)
	if err != nil {
		t.Fatal(err)
	}
	noSLO := res.Report(CapacityOptions{TargetPeak: 1000})
	if noSLO.Capacity == nil || !strings.Contains(noSLO.Capacity.Basis, "X(N*)") {
		t.Errorf("capacity without an SLO = %+v, want X(N*)", noSLO.Capacity)
	}
	if noSLO.Instances == nil || !strings.Contains(noSLO.Instances.Arithmetic, "× 1)) + 0") {
		t.Errorf("instances without utilisation = %+v, want 100%% and N+0", noSLO.Instances)
	}
	tooStrict := res.Report(CapacityOptions{SLOs: []SLO{{Metric: "p99", Threshold: time.Nanosecond}}, TargetPeak: 1000})
	if tooStrict.Capacity != nil || tooStrict.Instances != nil || !strings.Contains(strings.Join(tooStrict.Warnings, "\n"), "cannot count instances") {
		t.Errorf("impossible SLO: capacity %+v, instances %+v, warnings %q", tooStrict.Capacity, tooStrict.Instances, tooStrict.Warnings)
	}
	unfitted := (&SweepResult{Steps: res.Steps[:2], FitError: "fit: 2 points, need at least 3"}).Report(CapacityOptions{})
	if unfitted.Capacity == nil || unfitted.Capacity.Basis != "highest successful rate measured" || !strings.Contains(unfitted.Warnings[0], "no USL fit") {
		t.Errorf("unfitted: %+v %q", unfitted.Capacity, unfitted.Warnings)
	}
}

func TestParseSweepSpec(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		concurrency, rates string
		step               time.Duration
		want               []Step
		wantErr            string
	}{
		{name: "concurrency", concurrency: "1, 2,4", step: time.Second,
			want: []Step{{Concurrency: 1, Duration: time.Second}, {Concurrency: 2, Duration: time.Second}, {Concurrency: 4, Duration: time.Second}}},
		{name: "rates", rates: "10/s,1k/min", step: time.Second,
			want: []Step{{Rate: 10, Duration: time.Second}, {Rate: 1000.0 / 60, Duration: time.Second}}},
		{name: "neither", step: time.Second, wantErr: "give --concurrency"},
		{name: "both", concurrency: "1", rates: "1/s", step: time.Second, wantErr: "not both"},
		{name: "zero step", concurrency: "1", wantErr: "--step 0s"},
		{name: "bad level", concurrency: "1,x", step: time.Second, wantErr: `--concurrency: "x"`},
		{name: "zero level", concurrency: "0,1", step: time.Second, wantErr: `--concurrency: "0"`},
		{name: "falling", concurrency: "4,2", step: time.Second, wantErr: "must rise"},
		{name: "rate without unit", rates: "100", step: time.Second, wantErr: "--rates: \"100\": missing unit"},
		{name: "falling rates", rates: "100/s,50/s", step: time.Second, wantErr: "must rise"},
		{name: "zero rate", rates: "0/s", step: time.Second, wantErr: "above zero"},
		{name: "only commas", concurrency: ",,", step: time.Second, wantErr: "at least one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSweepSpec(tt.concurrency, tt.rates, tt.step)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != len(tt.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("step %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestParseCapacityOptions(t *testing.T) {
	t.Parallel()
	o, err := ParseCapacityOptions("p99<200ms", "7000/s", "70%", "", "N+2")
	wantSLOs := []SLO{{Metric: "p99", Threshold: 200 * time.Millisecond}, DefaultErrorSLO}
	if err != nil || !slices.Equal(o.SLOs, wantSLOs) || o.TargetPeak != 7000 || o.Utilisation != 0.7 || o.Spare != 2 {
		t.Fatalf("got %+v, %v", o, err)
	}
	// Without --slo the error objective still applies.
	if o, err := ParseCapacityOptions("", "", "", "25%", ""); err != nil || o.Utilisation != 0.75 || !slices.Equal(o.SLOs, []SLO{DefaultErrorSLO}) {
		t.Fatalf("headroom: got %+v, %v", o, err)
	}
	for _, bad := range []struct{ slo, peak, util, head, red, want string }{
		{slo: "p99", want: "--slo"},
		{peak: "7000", want: "--target-peak"},
		{util: "70", want: "--target-utilisation"},
		{util: "0%", want: "--target-utilisation"},
		{head: "100%", want: "--headroom"},
		{util: "70%", head: "30%", want: "not both"},
		{red: "N+x", want: "--redundancy"},
		{slo: "p99<1s, p99<2s", want: "p99 is given twice"},
		{slo: "error_rate<1", want: "--slo"},
	} {
		if _, err := ParseCapacityOptions(bad.slo, bad.peak, bad.util, bad.head, bad.red); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%+v: err = %v, want %q", bad, err, bad.want)
		}
	}
}

// stepsWithErrors builds steps of (offered rate, error share): the errors
// come back as HTTP 429 and the successful rate is what is left.
func stepsWithErrors(points ...[2]float64) []StepRecord {
	var out []StepRecord
	for i, p := range points {
		count := int64(p[0] * 10)
		errs := int64(p[1] * float64(count))
		out = append(out, StepRecord{
			Step: Step{Concurrency: i + 1},
			Result: StepResult{
				Offered: p[0], Achieved: p[0], Successful: p[0] * (1 - p[1]),
				Count: count, Errors: errs, P99: time.Millisecond,
				ErrorKinds: map[string]int64{"HTTP 429": errs},
			},
		})
	}
	return out
}

func TestMaxRateUnderErrorSLO(t *testing.T) {
	t.Parallel()
	slos := []SLO{{Metric: "p99", Threshold: 200 * time.Millisecond}, DefaultErrorSLO}
	tests := []struct {
		name   string
		steps  []StepRecord
		want   SLOResult
		basis  string
		broken string
	}{
		{
			// The bug of issue 10: a limiter refusing 90% from the start
			// answers fast, so the latency objective alone held throughout.
			name:   "refused from the first step",
			steps:  stepsWithErrors([2]float64{1000, 0.9}, [2]float64{2000, 0.9}),
			want:   SLOResult{},
			basis:  "the SLO failed at the first step (error rate 90% (HTTP 429 ×9,000) breaks error_rate<1%)",
			broken: "step 1: error rate 90%",
		},
		{
			// 0% at 400/s, 2% at 800/s: 1% is crossed halfway in the
			// successful rate, between 400 and 784 req/s.
			name:   "interpolated on the error rate",
			steps:  stepsWithErrors([2]float64{400, 0}, [2]float64{800, 0.02}, [2]float64{1600, 0.5}),
			want:   SLOResult{MaxRate: 592, Found: true},
			basis:  "interpolated between step 1 (error rate 0% at 400 req/s) and step 2 (error rate 2% at 784 req/s)",
			broken: "step 2: error rate 2% (HTTP 429 ×160) breaks error_rate<1%",
		},
		{
			name:  "a few errors within the objective",
			steps: stepsWithErrors([2]float64{400, 0.001}, [2]float64{800, 0.005}),
			want:  SLOResult{MaxRate: 796, Found: true, HeldThroughout: true},
			basis: "a lower bound",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := MaxRateUnderSLO(tt.steps, slos...)
			if got.Found != tt.want.Found || got.HeldThroughout != tt.want.HeldThroughout || math.Abs(got.MaxRate-tt.want.MaxRate) > 1e-9 {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if !strings.Contains(got.Basis, tt.basis) || !strings.Contains(got.Broken, tt.broken) {
				t.Errorf("basis %q, broken %q; want %q and %q", got.Basis, got.Broken, tt.basis, tt.broken)
			}
		})
	}
}

// TestSweepStopsAtErrorSLO: the step that breaks the error objective ends
// the sweep, the report says why, and the capacity is read from the
// successful rate below it, never from the responses that were errors.
func TestSweepStopsAtErrorSLO(t *testing.T) {
	t.Parallel()
	steps, _ := ParseSweepSpec("1,2,4,8,16", "", time.Second)
	var ran []int
	run := func(_ context.Context, s Step) (StepResult, error) {
		ran = append(ran, s.Concurrency)
		share := 0.0
		if s.Concurrency >= 4 {
			share = 0.5 // a limiter refusing half from 4 workers up
		}
		x := 100 * float64(s.Concurrency)
		errs := int64(x * share)
		return StepResult{
			Offered: x, Achieved: x, Successful: x * (1 - share), Concurrency: s.Concurrency,
			Count: int64(x), Errors: errs, P99: time.Millisecond,
			ErrorKinds: map[string]int64{"HTTP 429": errs},
		}, nil
	}
	slos, err := ParseSLOs("")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Sweep(context.Background(), steps, slos, run)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ran, []int{1, 2, 4}) {
		t.Errorf("ran concurrencies %v, want the sweep to stop after 4", ran)
	}
	wantStop := "stopped after step 3 of 5: error rate 50% (HTTP 429 ×200) breaks error_rate<1%; the higher steps were not run"
	if res.Stopped != wantStop {
		t.Errorf("stopped = %q, want %q", res.Stopped, wantStop)
	}
	rep := res.Report(CapacityOptions{SLOs: slos})
	// 0% at 200 req/s (step 2), 50% at 200 successful req/s (step 3): the
	// successful rate did not rise, so the capacity is step 2's.
	if rep.Capacity == nil || rep.Capacity.PerInstance != 200 {
		t.Fatalf("capacity %+v, want 200 req/s", rep.Capacity)
	}
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"successful/s", wantStop, "broken at  step 3: error rate 50%", "200 (50%)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "held at every step") {
		t.Errorf("report says the SLO held:\n%s", b.String())
	}
}
