package report

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/faultline-dev/faultline/estimate"
)

// The colours of the USL plot: measured points stand out from the curve.
var (
	uslPointColor = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	uslCurveColor = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	uslPeakColor  = color.RGBA{R: 0x55, G: 0x55, B: 0x55, A: 0xff}
)

// uSLPlotSVG draws the measured (N, X) points, the fitted Universal
// Scalability Law curve and its peak N* as an SVG. fit may be nil, which
// draws the points alone. The curve spans the measurements, and reaches
// out to N* when the peak lies no further than three times the largest
// measured concurrency.
func uSLPlotSVG(points [][2]float64, fit *estimate.USLFit, w io.Writer) error {
	p, err := uslPlot(points, fit)
	if err != nil {
		return err
	}
	canvas := vgsvg.New(6*vg.Inch, 4*vg.Inch)
	p.Draw(draw.New(canvas))
	if _, err := canvas.WriteTo(w); err != nil {
		return fmt.Errorf("usl plot: write svg: %w", err)
	}
	return nil
}

// uslPlot builds the plot that uSLPlotSVG draws.
func uslPlot(points [][2]float64, fit *estimate.USLFit) (*plot.Plot, error) {
	if len(points) == 0 {
		return nil, errors.New("usl plot: no points")
	}
	p := plot.New()
	p.Title.Text = "Throughput by concurrency"
	p.X.Label.Text = "concurrency N"
	p.Y.Label.Text = "throughput X"
	p.X.Min, p.Y.Min = 0, 0
	p.Add(plotter.NewGrid())

	xys := make(plotter.XYs, len(points))
	maxN, maxX := 0.0, 0.0
	for i, pt := range points {
		xys[i].X, xys[i].Y = pt[0], pt[1]
		maxN, maxX = math.Max(maxN, pt[0]), math.Max(maxX, pt[1])
	}

	if fit != nil {
		right := maxN
		if fit.Peak != nil && fit.Peak.N <= 3*maxN {
			right = math.Max(right, fit.Peak.N*1.15)
		}
		const steps = 200
		curve := make(plotter.XYs, steps+1)
		for i := range curve {
			n := 1 + (right-1)*float64(i)/steps
			if right < 1 {
				n = right * float64(i) / steps
			}
			curve[i].X, curve[i].Y = n, fit.Throughput(n)
			maxX = math.Max(maxX, curve[i].Y)
		}
		line, err := plotter.NewLine(curve)
		if err != nil {
			return nil, fmt.Errorf("usl plot: %w", err)
		}
		line.Color = uslCurveColor
		line.Width = vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("USL fit: σ=%s κ=%s λ=%s", sig(fit.Sigma.Value), sig(fit.Kappa.Value), sig(fit.Lambda.Value)), line)

		if fit.Peak != nil && fit.Peak.N <= right {
			marker, err := plotter.NewLine(plotter.XYs{{X: fit.Peak.N, Y: 0}, {X: fit.Peak.N, Y: fit.Peak.X}})
			if err != nil {
				return nil, fmt.Errorf("usl plot: %w", err)
			}
			marker.Color = uslPeakColor
			marker.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			p.Add(marker)
			p.Legend.Add(fmt.Sprintf("N* = %s, X(N*) = %s", sig(fit.Peak.N), sig(fit.Peak.X)), marker)
		}
	}

	scatter, err := plotter.NewScatter(xys)
	if err != nil {
		return nil, fmt.Errorf("usl plot: %w", err)
	}
	scatter.GlyphStyle.Color = uslPointColor
	scatter.GlyphStyle.Shape = draw.CircleGlyph{}
	scatter.GlyphStyle.Radius = vg.Points(3)
	p.Add(scatter)
	p.Legend.Add("measured", scatter)
	p.Legend.Top = true
	p.Legend.Left = true
	// Leave room above the highest point for the peak label and legend.
	p.Y.Max = maxX * 1.25
	return p, nil
}

func sig(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }
