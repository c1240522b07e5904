package report

import (
	"html/template"
	"io"

	"github.com/faultline-dev/faultline/estimate"
)

// WriteUSLHTML writes a self-contained HTML page for a capacity fit: the
// measured points with the fitted Universal Scalability Law curve and N*
// marked (inline SVG, no network request), above the report's table.
func WriteUSLHTML(w io.Writer, title, table string, points [][2]float64, fit *estimate.USLFit) error {
	p, err := uslPlot(points, fit)
	if err != nil {
		return err
	}
	svg, err := svgOf(p)
	if err != nil {
		return err
	}
	return uslTemplate.Execute(w, struct {
		Title, Table string
		Plot         template.HTML
	}{title, table, template.HTML(svg)}) //nolint:gosec // our own SVG, drawn by gonum/plot
}

// PointsOf lists a fit's measured points as (N, X) pairs for the plot.
func PointsOf(fit *estimate.USLFit) [][2]float64 {
	out := make([][2]float64, len(fit.Points))
	for i, p := range fit.Points {
		out[i] = [2]float64{p.N, p.X}
	}
	return out
}

var uslTemplate = template.Must(template.New("usl").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}pre{background:#f6f6f6;padding:1em;overflow-x:auto}</style>
</head><body>
<h1>{{.Title}}</h1>
<figure>{{.Plot}}<figcaption>Measured throughput against concurrency, the fitted Universal Scalability Law curve, and its peak N*.</figcaption></figure>
<pre>{{.Table}}</pre>
</body></html>
`))
