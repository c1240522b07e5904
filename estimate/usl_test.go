package estimate

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// rUSLData is the test data of the R usl package: X(N) of a system with
// σ = κ = 0.02 and λ = 1, rounded to four decimals.
var rUSLData = []Point{{1, 1}, {2, 1.8868}, {4, 3.0769}, {6, 3.5294}, {8, 3.5398}, {10, 3.3557}}

func TestFitUSLRPackageData(t *testing.T) {
	t.Parallel()
	f, err := FitUSL(rUSLData)
	if err != nil {
		t.Fatal(err)
	}
	absNear := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %v, want %v ± %v", what, got, want, tol)
		}
	}
	absNear("sigma", f.Sigma.Value, 0.02, 1e-4)
	absNear("kappa", f.Kappa.Value, 0.02, 1e-4)
	absNear("lambda", f.Lambda.Value, 1, 1e-4)
	if f.Peak == nil {
		t.Fatal("no peak")
	}
	absNear("N*", f.Peak.N, 7, 1e-3)
	absNear("X(N*)", f.Peak.X, 3.5714, 1e-4)
	for name, p := range map[string]Param{"sigma": f.Sigma, "kappa": f.Kappa, "lambda": f.Lambda} {
		if p.StdErr == nil || p.CI95 == nil || p.AtBound {
			t.Fatalf("%s has no standard error or interval: %+v", name, p)
		}
		want := map[string]float64{"sigma": 0.02, "kappa": 0.02, "lambda": 1}[name]
		// The data are rounded to 1e-4, so the interval is narrow but must
		// still cover the true value.
		if p.CI95[0] > want || p.CI95[1] < want || *p.StdErr <= 0 || *p.StdErr > 1e-3 {
			t.Errorf("%s: CI %v (se %v) does not cover %v tightly", name, *p.CI95, *p.StdErr, want)
		}
	}
	if f.DoF != 3 {
		t.Errorf("dof = %d, want 3", f.DoF)
	}
	if f.Dominant != "coherency" {
		t.Errorf("dominant = %q, want coherency (κN = 0.2 > σ = 0.02 at N = 10)", f.Dominant)
	}
	if len(f.Warnings) != 0 {
		t.Errorf("warnings on clean data: %q", f.Warnings)
	}
	if len(f.Points) != 6 || math.Abs(f.Points[5].Residual) > 1e-4 || f.R2 < 0.9999 {
		t.Errorf("points/residuals/R² off: %+v R² %v", f.Points, f.R2)
	}
	// The peak lies between measured points, so the capacity is the highest
	// measured throughput rather than the unmeasured X(N*).
	if c := f.Capacity(); c.PerInstance != 3.5398 {
		t.Errorf("capacity = %+v, want the measured 3.5398", c)
	}
}

func uslPoints(sigma, kappa, lambda float64, ns []float64) []Point {
	pts := make([]Point, len(ns))
	for i, n := range ns {
		pts[i] = Point{N: n, X: USLThroughput(sigma, kappa, lambda, n)}
	}
	return pts
}

var doubling = []float64{1, 2, 4, 8, 16, 32, 64}

func TestFitUSLRecoversParameters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		sigma, kappa, lambda float64
		ns                   []float64
		wantWarnings         []string
	}{
		{name: "web service", sigma: 0.05, kappa: 0.0005, lambda: 1000, ns: doubling},
		{name: "large lambda, small kappa", sigma: 0.001, kappa: 1e-5, lambda: 20000, ns: []float64{1, 4, 16, 64, 128, 256, 512}},
		{name: "coherency bound", sigma: 0, kappa: 0.01, lambda: 3, ns: []float64{1, 3, 5, 7, 9, 12, 16, 20}},
		{name: "not starting at one", sigma: 0.03, kappa: 0.001, lambda: 120, ns: []float64{4, 8, 12, 16, 24, 32, 48, 64}},
		{name: "superlinear", sigma: -0.02, kappa: 0.001, lambda: 10, ns: []float64{1, 2, 4, 8, 12, 16, 24, 32, 40},
			wantWarnings: []string{"superlinear"}},
		{name: "amdahl, no peak", sigma: 0.1, kappa: 0, lambda: 50, ns: doubling,
			wantWarnings: []string{"kappa is near zero"}},
		{name: "peak beyond the measurements", sigma: 0.01, kappa: 1e-4, lambda: 100, ns: []float64{1, 2, 4, 8, 16, 24, 32},
			wantWarnings: []string{"beyond the largest measured"}},
		{name: "few points", sigma: 0.05, kappa: 0.002, lambda: 10, ns: []float64{1, 8, 16, 32},
			wantWarnings: []string{"only 4 points"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := FitUSL(uslPoints(tt.sigma, tt.kappa, tt.lambda, tt.ns))
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(f.Sigma.Value-tt.sigma) > 1e-6 {
				t.Errorf("sigma = %v, want %v", f.Sigma.Value, tt.sigma)
			}
			if math.Abs(f.Kappa.Value-tt.kappa) > 1e-6*math.Max(tt.kappa, 1e-3) {
				t.Errorf("kappa = %v, want %v", f.Kappa.Value, tt.kappa)
			}
			near(t, "lambda", f.Lambda.Value, tt.lambda, 1e-6)
			if tt.kappa == 0 {
				if f.Peak != nil || !f.Kappa.AtBound {
					t.Errorf("peak %+v, kappa %+v: want no peak and kappa on its bound", f.Peak, f.Kappa)
				}
			} else {
				if f.Peak == nil {
					t.Fatal("no peak")
				}
				near(t, "N*", f.Peak.N, math.Sqrt((1-tt.sigma)/tt.kappa), 1e-5)
			}
			if len(f.Warnings) != len(tt.wantWarnings) {
				t.Fatalf("warnings %q, want %d matching %q", f.Warnings, len(tt.wantWarnings), tt.wantWarnings)
			}
			for i, w := range tt.wantWarnings {
				if !strings.Contains(f.Warnings[i], w) {
					t.Errorf("warning %q lacks %q", f.Warnings[i], w)
				}
			}
		})
	}
}

// TestFitUSLNoisy fits noisy measurements (2% deterministic noise) and
// checks that the intervals cover the true parameters.
func TestFitUSLNoisy(t *testing.T) {
	t.Parallel()
	const sigma, kappa, lambda = 0.04, 0.0008, 800.0
	r := rand.New(rand.NewPCG(7, 11))
	var pts []Point
	for _, n := range []float64{1, 2, 4, 8, 12, 16, 24, 32, 48, 64} {
		for range 3 {
			x := USLThroughput(sigma, kappa, lambda, n) * (1 + 0.02*r.NormFloat64())
			pts = append(pts, Point{N: n, X: x})
		}
	}
	f, err := FitUSL(pts)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		p    Param
		want float64
	}{"sigma": {f.Sigma, sigma}, "kappa": {f.Kappa, kappa}, "lambda": {f.Lambda, lambda}} {
		if c.p.CI95 == nil || c.p.CI95[0] > c.want || c.p.CI95[1] < c.want {
			t.Errorf("%s = %v, CI %v does not cover the true %v", name, c.p.Value, c.p.CI95, c.want)
		}
	}
	if f.DoF != len(pts)-3 {
		t.Errorf("dof = %d, want %d", f.DoF, len(pts)-3)
	}
	near(t, "N*", f.Peak.N, math.Sqrt((1-sigma)/kappa), 0.1)
}

func TestFitUSLErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		pts  []Point
		want string
	}{
		{"two points", []Point{{1, 1}, {2, 2}}, "2 points, need at least 3"},
		{"two levels", []Point{{1, 1}, {2, 2}, {2, 2.1}}, "2 distinct concurrency levels"},
		{"zero concurrency", []Point{{0, 1}, {2, 2}, {3, 3}}, "point 1: concurrency 0"},
		{"negative throughput", []Point{{1, 1}, {2, -2}, {3, 3}}, "point 2: throughput -2"},
		{"all zero", []Point{{1, 0}, {2, 0}, {3, 0}}, "every throughput is zero"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := FitUSL(tt.pts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestUSLLatency checks the inverse against the forward law: at N below
// the peak, X = X(N) must give back R = N/X, and the κ term must matter.
func TestUSLLatency(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		sigma, kappa, lambda float64
		ns                   []float64
	}{
		{"R package system", 0.02, 0.02, 1, []float64{1, 2, 3.5, 5, 6.9}},
		{"web service", 0.05, 0.0005, 1000, []float64{1, 10, 20, 40, 43}},
		{"no coherency", 0.1, 0, 50, []float64{1, 10, 100}},
		{"superlinear", -0.01, 0.001, 10, []float64{1, 5, 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, n := range tt.ns {
				x := USLThroughput(tt.sigma, tt.kappa, tt.lambda, n)
				r, err := USLLatency(tt.sigma, tt.kappa, tt.lambda, x)
				if err != nil {
					t.Fatalf("N=%v X=%v: %v", n, x, err)
				}
				near(t, "R", r, n/x, 1e-9)
			}
		})
	}

	// Near the peak, dropping κ from the quadratic (as some libraries do)
	// gives a visibly wrong latency: the test fails if our inverse did so.
	const sigma, kappa, lambda = 0.02, 0.02, 1.0
	x := USLThroughput(sigma, kappa, lambda, 6)
	r, err := USLLatency(sigma, kappa, lambda, x)
	if err != nil {
		t.Fatal(err)
	}
	withoutKappa := (1 - sigma) / (lambda - sigma*x)
	if math.Abs(r-6/x) > 1e-9 || math.Abs(withoutKappa-r)/r < 0.1 {
		t.Errorf("R = %v, N/X = %v, without κ = %v", r, 6/x, withoutKappa)
	}

	f := &USLFit{Sigma: Param{Value: sigma}, Kappa: Param{Value: kappa}, Lambda: Param{Value: lambda}}
	peak := USLThroughput(sigma, kappa, lambda, 7)
	if _, err := f.Latency(peak * 1.01); !errors.Is(err, ErrAbovePeak) {
		t.Errorf("above the peak: err = %v, want ErrAbovePeak", err)
	}
	if n, err := f.Concurrency(peak); err != nil || math.Abs(n-7) > 1e-3 {
		t.Errorf("concurrency at the peak = %v, %v; want 7", n, err)
	}
	if _, err := f.Latency(0); err == nil {
		t.Error("latency at zero throughput: no error")
	}
	if _, err := USLLatency(1, 0, 1, 1); !errors.Is(err, ErrAbovePeak) {
		t.Errorf("σ = 1, κ = 0 at λ: err = %v, want ErrAbovePeak", err)
	}
}

func TestCapacityFromFit(t *testing.T) {
	t.Parallel()
	// Measured right at the peak: N* = sqrt(0.96/0.0024) = 20.
	atPeak, err := FitUSL(uslPoints(0.04, 0.0024, 100, []float64{1, 2, 5, 10, 15, 20, 25, 30}))
	if err != nil {
		t.Fatal(err)
	}
	if c := atPeak.Capacity(); math.Abs(c.PerInstance-atPeak.Peak.X) > 1e-9 || c.Basis != "X(N*) of the USL fit" {
		t.Errorf("capacity = %+v, want X(N*) = %v", c, atPeak.Peak.X)
	}
	amdahl, err := FitUSL(uslPoints(0.1, 0, 50, doubling))
	if err != nil {
		t.Fatal(err)
	}
	want := USLThroughput(0.1, 0, 50, 64)
	if c := amdahl.Capacity(); math.Abs(c.PerInstance-want) > 1e-9 || !strings.Contains(c.Basis, "highest measured") {
		t.Errorf("capacity = %+v, want the highest measured %v", c, want)
	}
}

// TestKneeFindsHardLimit checks the model-free knee on a system with a hard
// concurrency limit (a semaphore of 8, 10 ms per request), where the USL's
// N* says little but the knee is the limit.
func TestKneeFindsHardLimit(t *testing.T) {
	t.Parallel()
	for _, limit := range []float64{4, 8, 16, 24} {
		var pts []Point
		for _, n := range doubling {
			pts = append(pts, Point{N: n, X: math.Min(n, limit) / 0.010})
		}
		f, err := FitUSL(pts)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "knee", f.Knee, limit, 1e-9)
	}
}
