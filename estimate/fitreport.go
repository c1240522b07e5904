package estimate

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"
	"time"
)

// Prediction is the fitted latency and concurrency at one throughput.
type Prediction struct {
	Throughput  float64 `json:"throughput"`
	Latency     float64 `json:"latency,omitempty"` // seconds: throughputs are per second
	Concurrency float64 `json:"concurrency,omitempty"`
	Error       string  `json:"error,omitempty"`
}

// FitReport is what 'faultline estimate fit' prints: the fit, the capacity
// it implies and the predictions asked for.
type FitReport struct {
	Fit         *USLFit           `json:"fit"`
	Capacity    *CapacityEstimate `json:"capacity"`
	Predictions []Prediction      `json:"predictions,omitempty"`
}

// NewFitReport builds the report of fit with predictions at the given
// throughputs.
func NewFitReport(fit *USLFit, at []float64) *FitReport {
	r := &FitReport{Fit: fit, Capacity: fit.Capacity()}
	for _, x := range at {
		r.Predictions = append(r.Predictions, fit.Predict(x))
	}
	return r
}

// secondsDuration converts seconds to a Duration, rounded to the
// nanosecond.
func secondsDuration(s float64) time.Duration {
	return time.Duration(math.Round(s * float64(time.Second)))
}

// Predict returns the latency and concurrency at throughput x.
func (f *USLFit) Predict(x float64) Prediction {
	p := Prediction{Throughput: x}
	r, err := f.Latency(x)
	if errors.Is(err, ErrAbovePeak) {
		p.Error = "above the fitted peak"
		if f.Peak != nil {
			p.Error += " X(N*) = " + sig(f.Peak.X)
		}
		return p
	}
	if err != nil {
		p.Error = err.Error()
		return p
	}
	p.Latency, p.Concurrency = r, x*r
	return p
}

// sig formats a value with 4 significant digits.
func sig(v float64) string { return sigDigits(v, 4) }

// sigDigits formats v with the given significant digits as a plain number:
// 11,670 rather than 1.167e+04. Only values below 0.0001 keep an exponent
// (3.526e-06), where a run of zeros would be harder to read.
func sigDigits(v float64, digits int) string {
	s := strconv.FormatFloat(v, 'g', digits, 64)
	rounded, err := strconv.ParseFloat(s, 64)
	if err != nil || math.Abs(rounded) < 1000 {
		return s
	}
	// Thousands separators, as every other figure of the estimates.
	return Num(rounded)
}

func paramRow(name string, p Param) string {
	se, ci := "-", "-"
	if p.StdErr != nil {
		se = sig(*p.StdErr)
	}
	if p.CI95 != nil {
		// Add digits until the bounds differ, so a tight interval does not
		// print as [0.02, 0.02].
		for digits := 4; ; digits++ {
			lo := sigDigits(p.CI95[0], digits)
			hi := sigDigits(p.CI95[1], digits)
			if lo != hi || digits >= 10 {
				ci = fmt.Sprintf("[%s, %s]", lo, hi)
				break
			}
		}
	}
	if p.AtBound {
		se, ci = "at bound", "-"
	}
	return fmt.Sprintf("  %s\t%s\t%s\t%s\n", name, sig(p.Value), se, ci)
}

// WriteText writes the fit as tables: parameters with standard errors and
// intervals, the peak and how it was computed, the points with residuals,
// predictions and warnings.
func (r *FitReport) WriteText(w io.Writer) error {
	out := &errWriter{w: w}
	writeFit(out, r.Fit)
	if r.Capacity != nil {
		out.printf("  capacity   %s per instance (%s)\n", Num(r.Capacity.PerInstance), r.Capacity.Basis)
	}
	writePoints(out, r.Fit)
	if len(r.Predictions) > 0 {
		out.printf("\nPREDICTIONS  R is the smaller root of κX²R² + (σX - κX - λ)R + (1 - σ) = 0; N = X·R\n")
		tw := tabwriter.NewWriter(out.w, 0, 0, 2, ' ', 0)
		out.tab(tw, "  X (/s)\tR\tN\n")
		for _, p := range r.Predictions {
			if p.Error != "" {
				out.tab(tw, "  %s\t-\t- (%s)\n", sig(p.Throughput), p.Error)
				continue
			}
			out.tab(tw, "  %s\t%s\t%s\n", sig(p.Throughput), HumanDuration(secondsDuration(p.Latency)), sig(p.Concurrency))
		}
		out.flush(tw)
	}
	writeWarnings(out, r.Fit.Warnings)
	return out.err
}

func (e *errWriter) tab(tw *tabwriter.Writer, format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(tw, format, args...)
	}
}

func (e *errWriter) flush(tw *tabwriter.Writer) {
	if err := tw.Flush(); err != nil && e.err == nil {
		e.err = err
	}
}

func writeFit(out *errWriter, f *USLFit) {
	out.printf("USL FIT  X(N) = λN / (1 + σ(N-1) + κN(N-1)), %d points, %d degrees of freedom\n", len(f.Points), f.DoF)
	tw := tabwriter.NewWriter(out.w, 0, 0, 2, ' ', 0)
	out.tab(tw, "  parameter\tvalue\tstd. error\t95%% CI\n")
	out.tab(tw, "%s", paramRow("sigma σ (contention)", f.Sigma))
	out.tab(tw, "%s", paramRow("kappa κ (coherency)", f.Kappa))
	out.tab(tw, "%s", paramRow("lambda λ (X at N=1)", f.Lambda))
	out.flush(tw)
	out.printf("  R² %s, RMSE %s, RSS %s\n\n", strconv.FormatFloat(f.R2, 'f', 6, 64), sig(f.RMSE), sig(f.RSS))
	s, k := f.Sigma.Value, f.Kappa.Value
	if f.Peak != nil {
		out.printf("  peak       N* = sqrt((1 - σ) / κ) = sqrt((1 - %s) / %s) = %s\n", sig(s), sig(k), sig(f.Peak.N))
		out.printf("             X(N*) = %s\n", sig(f.Peak.X))
	} else {
		out.printf("  peak       none: κ = 0, X(N) approaches λ/σ = %s\n", sig(f.Lambda.Value/math.Max(s, 1e-300)))
	}
	if lowN, perUnit, maxX, knee := kneeOf(f.Points); knee > 0 {
		out.printf("  knee       N = Xmax / (X/N at N=%s) = %s / %s = %s\n", Num(lowN), sig(maxX), sig(perUnit), sig(knee))
	}
	n := f.MaxMeasuredN
	cmp := ">="
	if f.Dominant == "coherency" {
		cmp = "<"
	}
	out.printf("  dominant   %s: at N = %s, σ(N-1) = %s %s κN(N-1) = %s\n", f.Dominant, Num(n), sig(f.ContentionTerm), cmp, sig(f.CoherencyTerm))
}

func writePoints(out *errWriter, f *USLFit) {
	out.printf("\nPOINTS\n")
	tw := tabwriter.NewWriter(out.w, 0, 0, 2, ' ', tabwriter.AlignRight)
	out.tab(tw, "  N\tX\tfitted\tresidual\t\n")
	for _, p := range f.Points {
		out.tab(tw, "  %s\t%s\t%s\t%s\t\n", Num(p.N), sig(p.X), sig(p.Fitted), sig(p.Residual))
	}
	out.flush(tw)
}

func writeWarnings(out *errWriter, warnings []string) {
	if len(warnings) == 0 {
		return
	}
	out.printf("\nWARNINGS\n")
	for _, w := range warnings {
		out.printf("  - %s\n", w)
	}
}

// ParseThroughputs parses a comma-separated list of throughputs for
// predictions ("100,200" or "100/s,200/s").
func ParseThroughputs(s string) ([]float64, error) {
	var out []float64
	for _, item := range splitList(s) {
		var v float64
		if r, err := ParseRate(item); err == nil {
			v = r.PerSecond()
		} else if c, err2 := ParseCount(item); err2 == nil {
			v = c
		} else {
			return nil, fmt.Errorf("%q: want a throughput such as 100 or 100/s", item)
		}
		if v <= 0 {
			return nil, fmt.Errorf("%q: want a throughput above zero", item)
		}
		out = append(out, v)
	}
	if len(out) == 0 && s != "" {
		return nil, errors.New("empty list")
	}
	return out, nil
}
