package report

import (
	"html/template"
	"io"
	"time"

	"github.com/faultline-dev/faultline/report/internal/md"
	"gonum.org/v1/plot"
)

func init() {
	RegisterFormat(Format{Name: "html", Extension: ".html", Render: writeHTML,
		Description: "one self-contained HTML page (no network requests): percentile spectrum, latency and throughput over time with faults and phases, tables with statuses, error classes, failing responses and links, verdicts"})
}

type htmlPlot struct {
	ID, Caption string
	SVG         template.HTML
}

type htmlPhase struct {
	Name, Span    string
	Rows          []htmlRow
	StatusColumns []string
	StatusRows    []htmlRow
	Failures      []htmlFailure
	Links         []htmlRow
}

type htmlFailure struct {
	Name, Kind, Body string
}

type htmlRow struct {
	Name  string
	Cells []string
}

type htmlCheck struct {
	Check
	Class, Verdict string
}

type htmlFault struct {
	FaultWindow
	InjectedAt, RevertedAt string
}

type htmlPage struct {
	Title, Verdict, VerdictClass, Model, Started, Lasted string
	Intervals                                            int
	Columns                                              []string
	StatusLegend, FailureLegend, LinkLegend              string
	LinkColumns                                          []string
	Checks                                               []htmlCheck
	Plots                                                []htmlPlot
	Phases                                               []htmlPhase
	Faults                                               []htmlFault
}

// writeHTML writes the run as one self-contained HTML page: inline CSS and
// inline SVG plots drawn with gonum/plot, no script, no font, image or
// style sheet fetched from anywhere, so it opens offline and as a CI
// artifact.
func writeHTML(w io.Writer, r *Run, _ Options) error {
	page := htmlPage{
		Title: r.Title, Verdict: verdictLine(r), Model: modelLine(r),
		Started:   r.Start.UTC().Format("2006-01-02 15:04:05.000 MST"),
		Lasted:    r.End.Sub(r.Start).Round(time.Millisecond).String(),
		Intervals: r.IntervalCount(), Columns: statColumns,
		StatusLegend: md.UpperFirst(statusLegend), FailureLegend: md.UpperFirst(failureLegend("request name")),
		LinkLegend: md.UpperFirst(linkLegend), LinkColumns: linkColumns,
	}
	switch {
	case len(r.Checks) == 0:
		page.VerdictClass = "none"
	case r.failures() == 0:
		page.VerdictClass = "held"
	default:
		page.VerdictClass = "failed"
	}
	for _, c := range r.Checks {
		class := "failed"
		switch c.Verdict {
		case VerdictHeld:
			class = "held"
		case VerdictInconclusive:
			class = "inconclusive"
		}
		if c.Phase == "" {
			c.Phase = "run"
		}
		page.Checks = append(page.Checks, htmlCheck{Check: c, Class: class, Verdict: verdictWord(c.Verdict)})
	}
	plots, err := htmlPlots(r)
	if err != nil {
		return err
	}
	page.Plots = plots
	page.Phases = htmlPhases(r)
	for _, f := range r.Faults {
		hf := htmlFault{FaultWindow: f, InjectedAt: offsetString(r.Start, f.Injected), RevertedAt: "never reverted"}
		if !f.Reverted.IsZero() {
			hf.RevertedAt = offsetString(r.Start, f.Reverted)
		}
		page.Faults = append(page.Faults, hf)
	}
	return htmlTemplate.Execute(w, page)
}

// htmlPlots draws the page's plots as inline SVG; the links plot only when
// the run timed requests through proxies.
func htmlPlots(r *Run) ([]htmlPlot, error) {
	var plots []htmlPlot
	for _, pl := range []struct {
		id, caption string
		build       func(*Run) (*plot.Plot, error)
	}{
		{"spectrum", "Latency by percentile on HdrHistogram's 1/(1-p) axis: the further right, the rarer the request.", spectrumPlot},
		{"latency", "Latency per interval (p50, p99, max of every request); faults shaded, phases marked.", latencyPlot},
		{"throughput", "Successful responses and errors per second, per interval; faults shaded, phases marked.", throughputPlot},
		{"links", "Each of faultline's timed requests through a proxy to the service behind it, beside the edge's p99 per interval: a fault the edge hides shows where it acts.", linkPlot},
	} {
		if pl.id == "links" && len(r.Links) == 0 {
			continue
		}
		p, err := pl.build(r)
		if err != nil {
			return nil, err
		}
		svg, err := svgOf(p)
		if err != nil {
			return nil, err
		}
		// The SVG is drawn by gonum/plot, which escapes every text it
		// writes, from data this package controls.
		plots = append(plots, htmlPlot{ID: pl.id, Caption: pl.caption, SVG: template.HTML(svg)})
	}
	return plots, nil
}

// htmlPhases returns one section per phase: its request table, status
// counts, failures and the links' timings in that phase.
func htmlPhases(r *Run) []htmlPhase {
	var phases []htmlPhase
	links := r.linkStats()
	for i, ph := range r.Phases {
		st := r.PhaseStats(i)
		hp := htmlPhase{Name: ph.Name, Span: spanString(r.Start, ph.Start, ph.End), StatusColumns: statusColumns(st)}
		for _, row := range tableRows(st) {
			hp.Rows = append(hp.Rows, htmlRow{Name: row.Name, Cells: row.cells()})
		}
		for _, name := range statusNames(st) {
			hp.StatusRows = append(hp.StatusRows, htmlRow{Name: rowLabel(name), Cells: statusCells(st, name, hp.StatusColumns)})
		}
		for _, f := range phaseFailures(st) {
			hp.Failures = append(hp.Failures, htmlFailure{Name: f.Name, Kind: failureKind(f), Body: bodyText(f)})
		}
		for _, ls := range links {
			if ls.Phase == ph.Name {
				hp.Links = append(hp.Links, htmlRow{Name: ls.Label, Cells: ls.cells()})
			}
		}
		phases = append(phases, hp)
	}
	return phases
}

var htmlTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>faultline: {{.Title}}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", sans-serif; margin: 2em auto; max-width: 1000px; padding: 0 1em; color: #222; background: #fff; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.meta { color: #555; margin: 0.2em 0; }
.verdict { display: inline-block; padding: 0.35em 0.8em; border-radius: 4px; font-weight: 600; margin: 0.6em 0; }
.verdict.held { background: #e6f4ea; color: #1e6b34; }
.verdict.failed { background: #fce8e6; color: #a50e0e; }
.verdict.none { background: #eef1f5; color: #333; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #e4e4e4; text-align: right; white-space: nowrap; }
th:first-child, td:first-child, table.checks td, table.checks th, table.faults td, table.faults th, table.failures td, table.failures th { text-align: left; }
table.failures td:last-child { white-space: pre-wrap; word-break: break-all; }
th { background: #f6f6f6; }
td.held { color: #1e6b34; font-weight: 600; }
td.failed { color: #a50e0e; font-weight: 600; }
td.inconclusive { color: #8a6100; font-weight: 600; }
figure { margin: 1em 0; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: #555; font-size: 0.9em; }
code { background: #f3f3f3; padding: 0 0.2em; }
footer { color: #888; font-size: 0.8em; margin-top: 3em; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<div class="verdict {{.VerdictClass}}">{{.Verdict}}</div>
<p class="meta">{{.Model}}</p>
<p class="meta">Started {{.Started}}, lasted {{.Lasted}}, {{.Intervals}} intervals.</p>
{{if .Checks}}
<h2>Checks</h2>
<table class="checks">
<tr><th>verdict</th><th>phase</th><th>check</th><th>measured</th><th>detail</th></tr>
{{range .Checks}}<tr><td class="{{.Class}}">{{.Verdict}}</td><td>{{.Phase}}</td><td><code>{{.Expression}}</code></td><td>{{.Measured}}</td><td>{{.Detail}}</td></tr>
{{end}}</table>
{{end}}
<h2>Plots</h2>
{{range .Plots}}<figure class="plot" id="{{.ID}}">
{{.SVG}}
<figcaption>{{.Caption}}</figcaption>
</figure>
{{end}}
{{range .Phases}}
<h2>Phase <code>{{.Name}}</code> <span class="meta">{{.Span}}</span></h2>
{{if .Rows}}<table class="stats">
<tr><th>request</th>{{range $.Columns}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr><td>{{.Name}}</td>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
{{else}}<p>No requests completed.</p>
{{end}}{{if .StatusColumns}}<p class="meta">{{$.StatusLegend}}:</p>
<table class="statuses">
<tr><th>request</th>{{range .StatusColumns}}<th>{{.}}</th>{{end}}</tr>
{{range .StatusRows}}<tr><td>{{.Name}}</td>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
{{end}}{{if .Failures}}<p class="meta">{{$.FailureLegend}}:</p>
<table class="failures">
<tr><th>request</th><th>status</th><th>body</th></tr>
{{range .Failures}}<tr><td>{{.Name}}</td><td>{{.Kind}}</td><td><code>{{.Body}}</code></td></tr>
{{end}}</table>
{{end}}{{if .Links}}<p class="meta">{{$.LinkLegend}}:</p>
<table class="links">
<tr><th>link</th>{{range $.LinkColumns}}<th>{{.}}</th>{{end}}</tr>
{{range .Links}}<tr><td>{{.Name}}</td>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
{{end}}{{end}}
{{if .Faults}}
<h2>Faults</h2>
<table class="faults">
<tr><th>fault</th><th>kind</th><th>target</th><th>injected</th><th>reverted</th></tr>
{{range .Faults}}<tr><td>{{.Name}}</td><td>{{.Kind}}</td><td>{{.Target}}</td><td>{{.InjectedAt}}</td><td>{{.RevertedAt}}</td></tr>
{{end}}</table>
{{end}}
<footer>Written by faultline report.</footer>
</body>
</html>
`))
