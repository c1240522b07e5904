package estimate

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// Point is one measurement: N is the concurrency (requests in flight) and X
// the throughput at that concurrency.
type Point struct {
	N float64 `json:"n"`
	X float64 `json:"x"`
}

// Param is a fitted parameter with its standard error and 95% confidence
// interval. StdErr and CI95 are nil when they cannot be computed (as many
// points as free parameters, or the parameter sits on its bound).
type Param struct {
	Value   float64     `json:"value"`
	StdErr  *float64    `json:"std_err"`
	CI95    *[2]float64 `json:"ci95"`
	AtBound bool        `json:"at_bound,omitempty"`
}

// Residual is one measured point beside the fitted curve.
type Residual struct {
	N        float64 `json:"n"`
	X        float64 `json:"x"`
	Fitted   float64 `json:"fitted"`
	Residual float64 `json:"residual"`
}

// Peak is where the fitted throughput is highest: N* = sqrt((1-σ)/κ) and
// X(N*).
type Peak struct {
	N float64 `json:"n"`
	X float64 `json:"x"`
}

// USLFit is the Universal Scalability Law fitted to measured points:
// X(N) = λN / (1 + σ(N-1) + κN(N-1)).
type USLFit struct {
	Sigma  Param `json:"sigma"`  // contention (serial fraction)
	Kappa  Param `json:"kappa"`  // coherency (crosstalk)
	Lambda Param `json:"lambda"` // throughput of one unit of concurrency

	Points []Residual `json:"points"`
	DoF    int        `json:"dof"`  // points minus free parameters
	RSS    float64    `json:"rss"`  // residual sum of squares
	RMSE   float64    `json:"rmse"` // sqrt(RSS / points)
	R2     float64    `json:"r2"`

	// Peak is nil when κ is zero: the curve then only flattens towards
	// λ/σ and has no maximum.
	Peak *Peak `json:"peak"`

	// Knee is a model-free estimate of the concurrency limit: the highest
	// measured throughput over the per-unit throughput at the lowest
	// measured concurrency, Xmax / (X/N at Nmin). Beyond it, linear scaling
	// from light load would exceed anything measured, so requests queue.
	// For a hard limit (a pool, a semaphore) it is that limit.
	Knee float64 `json:"knee"`

	// Dominant says which penalty is larger at the largest measured
	// concurrency: "contention" (σ(N-1)) or "coherency" (κN(N-1)).
	Dominant        string  `json:"dominant"`
	ContentionTerm  float64 `json:"contention_term"`
	CoherencyTerm   float64 `json:"coherency_term"`
	MaxMeasuredN    float64 `json:"max_measured_n"`
	Superlinear     bool    `json:"superlinear,omitempty"`
	KappaNearZero   bool    `json:"kappa_near_zero,omitempty"`
	PeakExtrapolate bool    `json:"peak_extrapolated,omitempty"`

	Warnings []string `json:"warnings,omitempty"`
}

// MinFitPoints is the fewest points FitUSL accepts; below RecommendedPoints
// it warns that the fit is rough.
const (
	MinFitPoints      = 3
	RecommendedPoints = 6
)

// USLThroughput is X(N) = λN / (1 + σ(N-1) + κN(N-1)).
func USLThroughput(sigma, kappa, lambda, n float64) float64 {
	return lambda * n / (1 + sigma*(n-1) + kappa*n*(n-1))
}

// Throughput is the fitted X(N).
func (f *USLFit) Throughput(n float64) float64 {
	return USLThroughput(f.Sigma.Value, f.Kappa.Value, f.Lambda.Value, n)
}

// ErrAbovePeak is returned for a throughput the fitted curve never reaches.
var ErrAbovePeak = errors.New("throughput above the fitted peak")

// USLLatency is the response time R at throughput x, the smaller root of
// κX²R² + (σX - κX - λ)R + (1 - σ) = 0, which follows from X(N) with N = XR
// (Little's law). R is in the time unit of x's denominator: seconds for a
// throughput per second. The κ term matters: dropping it, as some libraries
// do, underestimates latency near the peak.
func USLLatency(sigma, kappa, lambda, x float64) (float64, error) {
	if !(x > 0) {
		return 0, fmt.Errorf("throughput %s: want a positive throughput", Num(x))
	}
	a := kappa * x * x
	b := sigma*x - kappa*x - lambda
	c := 1 - sigma
	if a == 0 {
		// The quadratic degenerates to bR + c = 0.
		if b >= 0 {
			return 0, fmt.Errorf("throughput %s: %w", Num(x), ErrAbovePeak)
		}
		return -c / b, nil
	}
	disc := b*b - 4*a*c
	if disc < 0 {
		if disc > -1e-12*b*b {
			disc = 0 // x is the peak, up to rounding
		} else {
			return 0, fmt.Errorf("throughput %s: %w", Num(x), ErrAbovePeak)
		}
	}
	if b >= 0 {
		return 0, fmt.Errorf("throughput %s: %w", Num(x), ErrAbovePeak)
	}
	// With b < 0, q = (-b + √disc)/2 > 0 and the roots are q/a and c/q; c/q
	// is the smaller and does not cancel.
	q := (-b + math.Sqrt(disc)) / 2
	return c / q, nil
}

// Latency is the fitted response time at throughput x (see USLLatency).
func (f *USLFit) Latency(x float64) (float64, error) {
	return USLLatency(f.Sigma.Value, f.Kappa.Value, f.Lambda.Value, x)
}

// Concurrency is the concurrency at which the fitted curve first reaches
// throughput x: N = X·R by Little's law.
func (f *USLFit) Concurrency(x float64) (float64, error) {
	r, err := f.Latency(x)
	if err != nil {
		return 0, err
	}
	return x * r, nil
}

// FitUSL fits the Universal Scalability Law to points by bounded non-linear
// least squares: Levenberg-Marquardt with an analytic Jacobian, started from
// the linearised model and a grid of starting values, keeping the best. The
// bounds are κ >= 0, λ > 0 and σ <= 1; σ may go slightly below zero
// (superlinear scaling), which is reported as a warning.
func FitUSL(points []Point) (*USLFit, error) {
	if len(points) < MinFitPoints {
		return nil, fmt.Errorf("fit: %d points, need at least %d", len(points), MinFitPoints)
	}
	distinct := map[float64]bool{}
	maxN, maxX := 0.0, 0.0
	for i, p := range points {
		if !(p.N > 0) || math.IsInf(p.N, 0) {
			return nil, fmt.Errorf("fit: point %d: concurrency %s: want a positive number", i+1, Num(p.N))
		}
		if !(p.X >= 0) || math.IsInf(p.X, 0) {
			return nil, fmt.Errorf("fit: point %d: throughput %s: want zero or more", i+1, Num(p.X))
		}
		distinct[p.N] = true
		maxN, maxX = math.Max(maxN, p.N), math.Max(maxX, p.X)
	}
	if len(distinct) < MinFitPoints {
		return nil, fmt.Errorf("fit: %d distinct concurrency levels, need at least %d", len(distinct), MinFitPoints)
	}
	if maxX == 0 {
		return nil, errors.New("fit: every throughput is zero")
	}

	m := &uslModel{points: points}
	// σ stays above -1/(Nmax-1), which keeps the denominator positive over
	// the measured range; κ and λ cannot be negative.
	m.lo = [3]float64{-0.99 / (maxN - 1), 0, 1e-12 * maxX}
	m.hi = [3]float64{1, math.Inf(1), math.Inf(1)}

	best, bestCost := [3]float64{}, math.Inf(1)
	for _, start := range m.starts(maxN) {
		p, cost := m.levenbergMarquardt(start)
		if cost < bestCost {
			best, bestCost = p, cost
		}
	}
	if math.IsInf(bestCost, 1) {
		return nil, errors.New("fit: did not converge")
	}
	return m.result(best, maxN), nil
}

// uslModel holds the data and bounds of one fit.
type uslModel struct {
	points []Point
	lo, hi [3]float64
}

// residuals returns f(N) - X per point and, when jac is not nil, fills the
// Jacobian of the residuals with respect to (σ, κ, λ).
func (m *uslModel) residuals(p [3]float64, jac [][3]float64) []float64 {
	sigma, kappa, lambda := p[0], p[1], p[2]
	r := make([]float64, len(m.points))
	for i, pt := range m.points {
		n := pt.N
		d := 1 + sigma*(n-1) + kappa*n*(n-1)
		r[i] = lambda*n/d - pt.X
		if jac != nil {
			d2 := d * d
			jac[i] = [3]float64{
				-lambda * n * (n - 1) / d2,
				-lambda * n * n * (n - 1) / d2,
				n / d,
			}
		}
	}
	return r
}

func sumSquares(r []float64) float64 {
	s := 0.0
	for _, v := range r {
		s += v * v
	}
	return s
}

func (m *uslModel) cost(p [3]float64) float64 {
	for _, pt := range m.points {
		if 1+p[0]*(pt.N-1)+p[1]*pt.N*(pt.N-1) <= 0 {
			return math.Inf(1)
		}
	}
	return sumSquares(m.residuals(p, nil))
}

func (m *uslModel) clamp(p [3]float64) [3]float64 {
	for j := range p {
		p[j] = math.Min(math.Max(p[j], m.lo[j]), m.hi[j])
	}
	return p
}

// bestLambda returns the λ that minimises the squared error for fixed σ and
// κ; the model is linear in λ, so this is a one-line least squares.
func (m *uslModel) bestLambda(sigma, kappa float64) float64 {
	num, den := 0.0, 0.0
	for _, pt := range m.points {
		g := pt.N / (1 + sigma*(pt.N-1) + kappa*pt.N*(pt.N-1))
		num += g * pt.X
		den += g * g
	}
	if den == 0 || num <= 0 {
		return m.lo[2]
	}
	return num / den
}

// starts returns starting points: the linearised model, which is often
// close, and a grid over σ and κ (κ scaled to the measured range) with the
// best λ for each.
func (m *uslModel) starts(maxN float64) [][3]float64 {
	var out [][3]float64
	add := func(sigma, kappa float64) {
		p := m.clamp([3]float64{sigma, kappa, 0})
		p[2] = m.bestLambda(p[0], p[1])
		out = append(out, m.clamp(p))
	}
	if s, k, ok := m.linearised(); ok {
		add(s, k)
	}
	for _, sigma := range []float64{0, 0.01, 0.05, 0.2, 0.5, 0.9} {
		for _, k := range []float64{0, 0.01, 0.1, 1, 10} {
			add(sigma, k/(maxN*maxN))
		}
	}
	return out
}

// linearised estimates σ and κ from the rearranged law: with λ taken from
// the point of lowest concurrency, N·λ/X - 1 = σ(N-1) + κN(N-1), a linear
// least-squares problem without intercept.
func (m *uslModel) linearised() (sigma, kappa float64, ok bool) {
	low := m.points[0]
	for _, pt := range m.points {
		if pt.N < low.N {
			low = pt
		}
	}
	if low.X <= 0 {
		return 0, 0, false
	}
	lambda := low.X / low.N
	var a11, a12, a22, b1, b2 float64
	for _, pt := range m.points {
		if pt.X <= 0 {
			continue
		}
		y := pt.N*lambda/pt.X - 1
		u, v := pt.N-1, pt.N*(pt.N-1)
		a11 += u * u
		a12 += u * v
		a22 += v * v
		b1 += u * y
		b2 += v * y
	}
	det := a11*a22 - a12*a12
	if det == 0 {
		return 0, 0, false
	}
	return (b1*a22 - b2*a12) / det, (a11*b2 - a12*b1) / det, true
}

// levenbergMarquardt minimises the squared residuals from start within the
// bounds. A parameter on a bound whose gradient pushes it outwards is held
// fixed for that iteration (a projected, active-set LM), and every trial
// point is clamped into the box.
func (m *uslModel) levenbergMarquardt(start [3]float64) ([3]float64, float64) {
	p := m.clamp(start)
	cost := m.cost(p)
	if math.IsInf(cost, 1) || math.IsNaN(cost) {
		return p, math.Inf(1)
	}
	jac := make([][3]float64, len(m.points))
	mu := 1e-3
	for iter := 0; iter < 500; iter++ {
		r := m.residuals(p, jac)
		var a [3][3]float64
		var g [3]float64
		for i := range r {
			for j := range 3 {
				g[j] += jac[i][j] * r[i]
				for k := range 3 {
					a[j][k] += jac[i][j] * jac[i][k]
				}
			}
		}
		var free []int
		for j := range 3 {
			if p[j] <= m.lo[j] && g[j] > 0 || p[j] >= m.hi[j] && g[j] < 0 {
				continue
			}
			free = append(free, j)
		}
		if len(free) == 0 {
			break
		}
		improved := false
		var next [3]float64
		var nextCost float64
		for range 60 {
			sys := make([][]float64, len(free))
			rhs := make([]float64, len(free))
			for x, j := range free {
				sys[x] = make([]float64, len(free))
				for y, k := range free {
					sys[x][y] = a[j][k]
				}
				sys[x][x] += mu * math.Max(a[j][j], 1e-300)
				rhs[x] = -g[j]
			}
			step, ok := solve(sys, rhs)
			if ok {
				next = p
				for x, j := range free {
					next[j] += step[x]
				}
				next = m.clamp(next)
				nextCost = m.cost(next)
				if nextCost < cost {
					improved = true
					break
				}
			}
			mu *= 4
		}
		if !improved {
			break
		}
		drop := cost - nextCost
		p, cost = next, nextCost
		mu = math.Max(mu/3, 1e-15)
		if drop <= 1e-15*cost || cost == 0 {
			break
		}
	}
	return p, cost
}

// solve solves the small dense system a·x = b by Gaussian elimination with
// partial pivoting; ok is false when a is singular.
func solve(a [][]float64, b []float64) (x []float64, ok bool) {
	n := len(b)
	for col := range n {
		pivot := col
		for row := col + 1; row < n; row++ {
			if math.Abs(a[row][col]) > math.Abs(a[pivot][col]) {
				pivot = row
			}
		}
		if a[pivot][col] == 0 || math.IsNaN(a[pivot][col]) {
			return nil, false
		}
		a[col], a[pivot] = a[pivot], a[col]
		b[col], b[pivot] = b[pivot], b[col]
		for row := col + 1; row < n; row++ {
			f := a[row][col] / a[col][col]
			for k := col; k < n; k++ {
				a[row][k] -= f * a[col][k]
			}
			b[row] -= f * b[col]
		}
	}
	x = make([]float64, n)
	for row := n - 1; row >= 0; row-- {
		s := b[row]
		for k := row + 1; k < n; k++ {
			s -= a[row][k] * x[k]
		}
		x[row] = s / a[row][row]
	}
	return x, true
}

// invert returns the inverse of the small matrix a, or false if singular.
func invert(a [][]float64) ([][]float64, bool) {
	n := len(a)
	inv := make([][]float64, n)
	for i := range inv {
		inv[i] = make([]float64, n)
	}
	for col := range n {
		sys := make([][]float64, n)
		for i := range a {
			sys[i] = append([]float64(nil), a[i]...)
		}
		e := make([]float64, n)
		e[col] = 1
		x, ok := solve(sys, e)
		if !ok {
			return nil, false
		}
		for i := range n {
			inv[i][col] = x[i]
		}
	}
	return inv, true
}

// result builds the fit report at the optimum p: standard errors from the
// Jacobian there (see paramErrors), residuals, the peak and warnings.
func (m *uslModel) result(p [3]float64, maxN float64) *USLFit {
	n := len(m.points)
	jac := make([][3]float64, n)
	r := m.residuals(p, jac)
	rss := sumSquares(r)

	mean := 0.0
	for _, pt := range m.points {
		mean += pt.X
	}
	mean /= float64(n)
	tss := 0.0
	for _, pt := range m.points {
		tss += (pt.X - mean) * (pt.X - mean)
	}

	params, dof := m.paramErrors(p, jac, rss)

	f := &USLFit{
		Sigma: params[0], Kappa: params[1], Lambda: params[2],
		DoF: dof, RSS: rss, RMSE: math.Sqrt(rss / float64(n)), MaxMeasuredN: maxN,
	}
	if tss > 0 {
		f.R2 = 1 - rss/tss
	}
	for i, pt := range m.points {
		f.Points = append(f.Points, Residual{N: pt.N, X: pt.X, Fitted: pt.X + r[i], Residual: -r[i]})
	}
	sort.SliceStable(f.Points, func(i, j int) bool { return f.Points[i].N < f.Points[j].N })

	_, _, _, f.Knee = kneeOf(f.Points)

	sigma, kappa := p[0], p[1]
	if kappa > 0 && sigma < 1 {
		nStar := math.Sqrt((1 - sigma) / kappa)
		f.Peak = &Peak{N: nStar, X: f.Throughput(nStar)}
	}
	f.ContentionTerm = sigma * (maxN - 1)
	f.CoherencyTerm = kappa * maxN * (maxN - 1)
	if f.ContentionTerm >= f.CoherencyTerm {
		f.Dominant = "contention"
	} else {
		f.Dominant = "coherency"
	}

	f.addWarnings(n, sigma, kappa, maxN)
	return f
}

// paramErrors returns the fitted parameters with standard errors and
// t-based 95% intervals, and the residual degrees of freedom. Parameters
// at a bound are marked and left out of the covariance: they are not free,
// so counting them would understate the intervals of the others. The
// covariance is s²(JᵀJ)⁻¹ over the free parameters, s² = RSS/(n - free).
func (m *uslModel) paramErrors(p [3]float64, jac [][3]float64, rss float64) ([3]Param, int) {
	n := len(m.points)
	params := [3]Param{{Value: p[0]}, {Value: p[1]}, {Value: p[2]}}
	var free []int
	for j := range 3 {
		if p[j] <= m.lo[j] || p[j] >= m.hi[j] {
			params[j].AtBound = true
			continue
		}
		free = append(free, j)
	}
	dof := n - len(free)
	if dof > 0 && len(free) > 0 {
		jtj := make([][]float64, len(free))
		for x, j := range free {
			jtj[x] = make([]float64, len(free))
			for y, k := range free {
				for i := range n {
					jtj[x][y] += jac[i][j] * jac[i][k]
				}
			}
		}
		if inv, ok := invert(jtj); ok {
			s2 := rss / float64(dof)
			t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(dof)}.Quantile(0.975)
			for x, j := range free {
				v := s2 * inv[x][x]
				if v < 0 || math.IsNaN(v) {
					continue
				}
				se := math.Sqrt(v)
				params[j].StdErr = &se
				params[j].CI95 = &[2]float64{p[j] - t*se, p[j] + t*se}
			}
		}
	}
	return params, dof
}

// addWarnings flags, in a fixed order, the fits a reader should not take
// at face value: too few points, superlinear scaling, no visible peak and
// a peak beyond the measurements. It runs after Peak and Kappa are set,
// since two of the checks read them.
func (f *USLFit) addWarnings(n int, sigma, kappa, maxN float64) {
	if n < RecommendedPoints {
		f.Warnings = append(f.Warnings, fmt.Sprintf("only %d points: the fit and its intervals are rough; measure at least %d load levels", n, RecommendedPoints))
	}
	if sigma < 0 {
		f.Superlinear = true
		f.Warnings = append(f.Warnings, fmt.Sprintf("sigma = %.4g < 0: superlinear scaling, which rarely lasts; check for warm-up or caching in the first steps", sigma))
	}
	kappaCI := f.Kappa.CI95
	if kappa <= 1e-12 || kappaCI != nil && kappaCI[0] <= 0 {
		f.KappaNearZero = true
		f.Warnings = append(f.Warnings, "kappa is near zero: the data show no throughput peak, the curve only flattens; N* is unreliable or absent")
	}
	if f.Peak != nil && f.Peak.N > maxN {
		f.PeakExtrapolate = true
		f.Warnings = append(f.Warnings, fmt.Sprintf("N* = %s is beyond the largest measured concurrency (%s): the peak is extrapolated; measure further", Num(f.Peak.N), Num(maxN)))
	}
}

// kneeOf returns the terms of the knee: the lowest concurrency, the
// throughput per unit of concurrency there (the best of repeated points),
// the highest throughput and knee = maxX / perUnit.
func kneeOf(pts []Residual) (lowN, perUnit, maxX, knee float64) {
	lowN = math.Inf(1)
	for _, p := range pts {
		if p.N < lowN {
			lowN, perUnit = p.N, p.X/p.N
		} else if p.N == lowN {
			perUnit = math.Max(perUnit, p.X/p.N)
		}
		maxX = math.Max(maxX, p.X)
	}
	if perUnit > 0 {
		knee = maxX / perUnit
	}
	return lowN, perUnit, maxX, knee
}

// CapacityEstimate is a per-instance capacity derived from measurements,
// the figure a plan's instance_capacity_from reads.
type CapacityEstimate struct {
	PerInstance float64 `json:"per_instance"`
	Unit        string  `json:"unit"`
	Basis       string  `json:"basis"`
}

// Capacity returns the capacity of one instance: the fitted peak X(N*), but
// never more than the highest measured throughput (a fit may overshoot a
// flat top), and the highest measured throughput when the curve has no
// peak within the measurements.
func (f *USLFit) Capacity() *CapacityEstimate {
	_, _, maxX, _ := kneeOf(f.Points)
	switch {
	case f.Peak == nil || f.PeakExtrapolate:
		return &CapacityEstimate{PerInstance: maxX, Unit: "req/s", Basis: "highest measured throughput; no fitted peak within the measurements"}
	case f.Peak.X > maxX:
		return &CapacityEstimate{PerInstance: maxX, Unit: "req/s", Basis: "highest measured throughput, below the fitted X(N*)"}
	default:
		return &CapacityEstimate{PerInstance: f.Peak.X, Unit: "req/s", Basis: "X(N*) of the USL fit"}
	}
}
