package report

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report/internal/hdr"
)

// Plot colours. Distinct, saturated line colours let the browser test find
// each series in a screenshot.
var (
	colorP50       = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	colorP99       = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
	colorMax       = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	colorOK        = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
	colorErrors    = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	colorScheduled = color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}
	colorPhase     = color.RGBA{R: 0x55, G: 0x55, B: 0x55, A: 0xff}
	colorFault     = color.NRGBA{R: 0xff, G: 0x99, B: 0x00, A: 0x50}
	colorLink      = color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}
	// seriesColors colour the lines of the percentile spectrum in turn.
	seriesColors = []color.Color{colorP50, colorP99, colorOK, colorMax,
		color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
		color.RGBA{R: 0xe3, G: 0x77, B: 0xc2, A: 0xff}, color.RGBA{R: 0x17, G: 0xbe, B: 0xcf, A: 0xff}}
)

// Plot size in the HTML report.
const (
	plotWidth  = 10 * vg.Inch
	plotHeight = 3.6 * vg.Inch
)

// svgOf draws p as an SVG element ready to be inlined in HTML: no XML
// declaration, and no namespace attributes (HTML puts <svg> in the SVG
// namespace by itself), so the document holds no URL at all.
func svgOf(p *plot.Plot) (string, error) {
	c := vgsvg.New(plotWidth, plotHeight)
	p.Draw(draw.New(c))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return "", err
	}
	s := b.String()
	i := strings.Index(s, "<svg")
	if i < 0 {
		return "", errors.New("plot: no <svg> element in the drawing")
	}
	s = s[i:]
	s = strings.Replace(s, `xmlns="http://www.w3.org/2000/svg"`, "", 1)
	s = strings.Replace(s, `xmlns:xlink="http://www.w3.org/1999/xlink"`, "", 1)
	return s, nil
}

// latencyUnit picks the unit latency axes are drawn in, from the largest
// value in nanoseconds.
func latencyUnit(maxNs float64) (scale float64, name string) {
	switch {
	case maxNs < 1e6:
		return Microseconds, "µs"
	case maxNs < 10e9:
		return Milliseconds, "ms"
	default:
		return Seconds, "s"
	}
}

func newLine(xys plotter.XYs, c color.Color, width vg.Length, dashed bool) (*plotter.Line, error) {
	l, err := plotter.NewLine(xys)
	if err != nil {
		return nil, err
	}
	l.Color = c
	l.Width = width
	if dashed {
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	}
	return l, nil
}

// spectrumSeries is one latency distribution drawn on the spectrum.
type spectrumSeries struct {
	label string
	h     *hdrhistogram.Histogram
}

// spectrumSeriesOf chooses what the spectrum compares: the phases of a run
// that has several (every request together), else the request names.
func spectrumSeriesOf(r *Run) []spectrumSeries {
	var out []spectrumSeries
	if len(r.Phases) > 1 {
		for i, p := range r.Phases {
			if h := r.PhaseStats(i).Latency(""); h.TotalCount() > 0 {
				out = append(out, spectrumSeries{"phase " + p.Name, h})
			}
		}
		return out
	}
	total := r.Total()
	names := total.Names()
	for _, n := range names {
		out = append(out, spectrumSeries{n, total.Latency(n)})
	}
	if len(names) > 1 {
		out = append(out, spectrumSeries{AllRequests, total.Latency("")})
	}
	return out
}

// spectrumTicks marks the 1/(1-p) axis at 0%, 90%, 99%, 99.9%, ... as
// HdrHistogram's plotter does.
func spectrumTicks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	for k := 0; ; k++ {
		v := math.Pow(10, float64(k))
		if v > max*1.0001 && k > 1 {
			break
		}
		label := strconv.FormatFloat(100*(1-1/v), 'f', -1, 64) + "%"
		ticks = append(ticks, plot.Tick{Value: v, Label: label})
		for m := 2.0; m < 10 && k < 8; m++ {
			if mv := m * v; mv <= max {
				ticks = append(ticks, plot.Tick{Value: mv})
			}
		}
		if k > 12 {
			break
		}
	}
	return ticks
}

// spectrumPlot draws the percentile spectrum: latency against percentile on
// HdrHistogram's 1/(1-p) logarithmic axis, so the tail gets the room.
func spectrumPlot(r *Run) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Latency by percentile"
	p.X.Label.Text = "percentile"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.TickerFunc(spectrumTicks)
	p.Add(plotter.NewGrid())
	series := spectrumSeriesOf(r)
	maxNs := 1.0
	for _, s := range series {
		maxNs = math.Max(maxNs, float64(s.h.Max()))
	}
	scale, unit := latencyUnit(maxNs)
	p.Y.Label.Text = "latency (" + unit + ")"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 1, 10, 0, 0
	for i, s := range series {
		steps := percentileIteration(s.h, hdr.GeometryOf(s.h), DefaultTicksPerHalfDistance)
		var xys plotter.XYs
		for _, st := range steps {
			if st.percentile >= 100 {
				continue
			}
			xys = append(xys, plotter.XY{X: 1 / (1 - st.percentile/100), Y: float64(st.value) / scale})
		}
		if len(xys) == 0 {
			continue
		}
		if len(xys) == 1 {
			xys = append(xys, plotter.XY{X: xys[0].X * 10, Y: xys[0].Y})
		}
		l, err := newLine(xys, seriesColors[i%len(seriesColors)], vg.Points(2), false)
		if err != nil {
			return nil, fmt.Errorf("spectrum plot: %w", err)
		}
		p.Add(l)
		p.Legend.Add(s.label, l)
	}
	p.Y.Min, p.X.Min = 0, 1
	if p.Y.Max <= 0 {
		p.Y.Max = 1
	}
	p.Y.Max *= 1.08
	p.Legend.Top, p.Legend.Left = true, true
	return p, nil
}

// timeline is what the two plots over time share: an x axis in seconds from
// the start of the run, fault windows shaded behind the data and phase
// boundaries drawn and labelled.
func timelinePlot(r *Run, title, yLabel string, yTop float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "seconds since start"
	p.Y.Label.Text = yLabel
	p.Add(plotter.NewGrid())
	end := math.Max(r.offset(r.End), 1)
	if yTop <= 0 {
		yTop = 1
	}
	// Headroom above the data keeps the legend and the phase labels off
	// the lines.
	top := yTop * 1.35
	shaded := false
	for _, f := range r.Faults {
		x0 := math.Max(0, r.offset(f.Injected))
		x1 := math.Min(end, r.offset(r.revertedOrEnd(f)))
		if x1 <= x0 {
			x1 = x0 + end/500
		}
		poly, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: 0}, {X: x1, Y: 0}, {X: x1, Y: top}, {X: x0, Y: top}})
		if err != nil {
			return nil, err
		}
		poly.Color = colorFault
		poly.LineStyle.Width = 0
		p.Add(poly)
		if !shaded {
			p.Legend.Add("fault injected", poly)
			shaded = true
		}
	}
	var labels plotter.XYLabels
	for i, ph := range r.Phases {
		x := math.Max(0, r.offset(ph.Start))
		if i > 0 {
			l, err := newLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: top}}, colorPhase, vg.Points(1), true)
			if err != nil {
				return nil, err
			}
			p.Add(l)
		}
		labels.XYs = append(labels.XYs, plotter.XY{X: x, Y: top})
		labels.Labels = append(labels.Labels, " "+ph.Name)
	}
	if len(labels.XYs) > 0 {
		lb, err := plotter.NewLabels(labels)
		if err != nil {
			return nil, err
		}
		for i := range lb.TextStyle {
			lb.TextStyle[i].Color = colorPhase
			lb.TextStyle[i].YAlign = draw.YTop
		}
		p.Add(lb)
	}
	p.X.Min, p.X.Max = 0, end
	p.Y.Min, p.Y.Max = 0, top
	p.Legend.Top = true
	return p, nil
}

// midpoint is the x of a point on a timeline plot.
func (r *Run) midpoint(p *plotPoint) float64 {
	return (r.offset(p.start) + r.offset(p.end)) / 2
}

// latencyPlot draws p50, p99 and max of every request, per point (an
// interval, or consecutive intervals merged in a long run).
func latencyPlot(r *Run) (*plot.Plot, error) {
	var p50, p99, pmax plotter.XYs
	points, err := r.plotPoints()
	if err != nil {
		return nil, err
	}
	maxNs := 1.0
	for i := range points {
		maxNs = math.Max(maxNs, float64(points[i].max))
	}
	scale, unit := latencyUnit(maxNs)
	yTop := 0.0
	for i := range points {
		pt := &points[i]
		if pt.latencies == 0 {
			continue
		}
		x := r.midpoint(pt)
		p50 = append(p50, plotter.XY{X: x, Y: float64(pt.p50) / scale})
		p99 = append(p99, plotter.XY{X: x, Y: float64(pt.p99) / scale})
		pmax = append(pmax, plotter.XY{X: x, Y: float64(pt.max) / scale})
		yTop = math.Max(yTop, float64(pt.max)/scale)
	}
	p, err := timelinePlot(r, "Latency over time", "latency ("+unit+")", yTop)
	if err != nil {
		return nil, fmt.Errorf("latency plot: %w", err)
	}
	for _, s := range []struct {
		label string
		xys   plotter.XYs
		c     color.Color
	}{{"max", pmax, colorMax}, {"p99", p99, colorP99}, {"p50", p50, colorP50}} {
		if len(s.xys) == 0 {
			continue
		}
		l, err := newLine(s.xys, s.c, vg.Points(2), false)
		if err != nil {
			return nil, fmt.Errorf("latency plot: %w", err)
		}
		p.Add(l)
		p.Legend.Add(s.label, l)
	}
	return p, nil
}

// throughputPlot draws, per point, the successful responses and the
// errors per second, and in the open model the scheduled rate.
func throughputPlot(r *Run) (*plot.Plot, error) {
	var ok, failed, scheduled plotter.XYs
	yTop := 0.0
	points, err := r.plotPoints()
	if err != nil {
		return nil, err
	}
	for i := range points {
		pt := &points[i]
		d := pt.duration().Seconds()
		if d <= 0 {
			continue
		}
		x := r.midpoint(pt)
		n, f := float64(pt.completed), float64(pt.failed)
		ok = append(ok, plotter.XY{X: x, Y: (n - f) / d})
		failed = append(failed, plotter.XY{X: x, Y: f / d})
		yTop = math.Max(yTop, n/d)
		if r.Model == loadgen.Open {
			scheduled = append(scheduled, plotter.XY{X: x, Y: float64(pt.scheduled) / d})
			yTop = math.Max(yTop, float64(pt.scheduled)/d)
		}
	}
	p, err := timelinePlot(r, "Throughput and errors over time", "per second", yTop)
	if err != nil {
		return nil, fmt.Errorf("throughput plot: %w", err)
	}
	for _, s := range []struct {
		label  string
		xys    plotter.XYs
		c      color.Color
		dashed bool
	}{{"scheduled", scheduled, colorScheduled, true}, {"ok responses", ok, colorOK, false}, {"errors", failed, colorErrors, false}} {
		if len(s.xys) == 0 {
			continue
		}
		l, err := newLine(s.xys, s.c, vg.Points(2), s.dashed)
		if err != nil {
			return nil, fmt.Errorf("throughput plot: %w", err)
		}
		p.Add(l)
		p.Legend.Add(s.label+"/s", l)
	}
	return p, nil
}
