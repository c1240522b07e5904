package estimate_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/estimate"
	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/targets"
)

// TestSweepFindsStorePoolLimit sweeps the bundled store, configured with a
// pool of 8 and a fixed 10 ms service time, through rising concurrency with
// the load engine, and checks that the sweep finds the limit of 8 within
// 20%.
//
// The limit is read from the fit's knee: the highest throughput measured
// over the throughput per unit of concurrency at the lowest concurrency,
// Xmax / X(1). It needs nothing but the measurements, and for a hard limit
// like a pool it is that limit: each slot serves 1/S requests per second,
// so Xmax = 8/S while X(1) = 1/S. The alternative, the capacity times the
// configured service time (N = X·S, Little's law), would lean on the
// service time the test set rather than on what the sweep measured; it is
// logged for comparison. The USL's N* is no use here: a pool flattens the
// curve without a peak, so κ is near zero and N* is absent or extrapolated.
//
// The store's ceiling is 8 / 10 ms = 800 requests per second, well within
// one core, so a shared machine measures it.
func TestSweepFindsStorePoolLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("a 12 s sweep; skipped with -short")
	}
	t.Parallel()
	const (
		pool    = 8
		service = 10 * time.Millisecond
		step    = 1500 * time.Millisecond
	)
	cfg := targets.Defaults()
	cfg.Seed = 1
	cfg.Store.ServiceTime = targets.ServiceTimeConfig{Enabled: true, Distribution: targets.DistFixed, Fixed: service}
	// A queue that holds every request beyond the pool and a wait no
	// request reaches, so the pool limits throughput without refusing any.
	cfg.Store.Pool = targets.PoolConfig{Enabled: true, Size: pool, MaxQueue: 1024, MaxWait: 30 * time.Second}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	shop, err := targets.Start(ctx, cfg, targets.StartOptions{Only: []string{targets.Store}})
	if err != nil {
		t.Fatalf("start the store: %v", err)
	}
	defer shop.Close()
	// Products are seeded under product:ID (targets/products.go).
	target, err := loadgen.NewTarget("GET", shop.URL(targets.Store)+"/kv/product:"+targets.ProductID(1))
	if err != nil {
		t.Fatal(err)
	}

	// The step runner of `faultline estimate sweep`.
	run := estimate.LoadStep(target, 10*time.Second)
	var steps []estimate.Step
	for _, n := range []int{1, 2, 4, 8, 12, 16, 24, 32} {
		steps = append(steps, estimate.Step{Concurrency: n, Duration: step})
	}
	res, err := estimate.Sweep(ctx, steps, []estimate.SLO{estimate.DefaultErrorSLO}, run)
	if err != nil {
		t.Fatalf("sweep: %v", err)
	}
	for i, s := range res.Steps {
		t.Logf("N=%2d  X=%6.1f/s  mean %s  p99 %s  errors %d", s.Step.Concurrency, s.Result.Successful, s.Result.Mean, s.Result.P99, s.Result.Errors)
		if s.Result.Errors > 0 || s.Result.Count == 0 {
			t.Errorf("step %d: %d errors of %d requests: the pool should queue, not refuse", i+1, s.Result.Errors, s.Result.Count)
		}
	}
	if res.Fit == nil {
		t.Fatalf("no USL fit: %s", res.FitError)
	}
	capacity := res.Fit.Capacity()
	t.Logf("knee %.2f; capacity %.1f/s (%s) x %s = %.2f", res.Fit.Knee, capacity.PerInstance, capacity.Basis, service, capacity.PerInstance*service.Seconds())
	if got := res.Fit.Knee; math.Abs(got-pool)/pool > 0.2 {
		t.Errorf("the sweep finds a concurrency limit of %.2f, want %d within 20%%", got, pool)
	}
}
