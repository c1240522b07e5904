package compare

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/faultline-dev/faultline/internal/metric"
	"github.com/faultline-dev/faultline/report"
	"github.com/faultline-dev/faultline/report/internal/md"
)

// Schema and Version identify the JSON of a comparison.
const (
	Schema  = "faultline/compare"
	Version = 1
)

// Side names one side of a comparison in its output.
type Side struct {
	File      string `json:"file"`
	Title     string `json:"title"`
	Intervals int    `json:"intervals"`
}

// msHuman, perSecond and percent print milliseconds, rates and fractions
// as the metric vocabulary prints durations, rates and ratios.
func msHuman(v float64) string { return metric.Duration.Format(v * 1e6) }

func perSecond(v float64) string { return metric.Rate.Format(v) }

func percent(v float64) string { return metric.FormatPercent(v) }

// unitOf is the unit of a metric the comparison holds.
func unitOf(name string) metric.Unit {
	m, _ := compareMetric(name)
	return m.Unit
}

// formatMetric prints a value of the metric in its unit.
func formatMetric(name string, v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	switch unitOf(name) {
	case metric.Rate:
		return perSecond(v)
	case metric.Ratio:
		return percent(v)
	case metric.Count:
		return metric.Count.Format(v)
	default:
		return msHuman(v / 1e6)
	}
}

// formatDelta prints a signed difference in the metric's unit: a duration,
// a rate or percentage points.
func formatDelta(name string, d float64) string {
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	switch unitOf(name) {
	case metric.Rate:
		return sign + perSecond(d)
	case metric.Ratio:
		return sign + trimPoints(d*100) + "pp"
	case metric.Count:
		return sign + metric.Count.Format(d)
	default:
		return sign + msHuman(d/1e6)
	}
}

func trimPoints(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}

func signedPercent(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+inf%"
	case math.IsInf(f, -1):
		return "-inf%"
	}
	return fmt.Sprintf("%+.1f%%", f*100)
}

// changeString is the change as the comparison prints it: relative for
// latency and rate, percentage points for error rates.
func (r Row) changeString() string {
	if math.IsNaN(r.Change) {
		return "-"
	}
	if unitOf(r.Metric) == metric.Ratio || r.Base == 0 {
		return formatDelta(r.Metric, r.Change)
	}
	return fmt.Sprintf("%s (%s)", signedPercent(r.Relative), formatDelta(r.Metric, r.Change))
}

// intervalString is the confidence interval of the change: of the
// relative change where the change is shown relative.
func (r Row) intervalString() string {
	if !r.Judged {
		return "-"
	}
	if unitOf(r.Metric) == metric.Ratio || r.Base == 0 || math.IsNaN(r.RelativeLow) {
		return formatDelta(r.Metric, r.Low) + " .. " + formatDelta(r.Metric, r.High)
	}
	return signedPercent(r.RelativeLow) + " .. " + signedPercent(r.RelativeHigh)
}

// visibleRows drops the per-name rows when there is only one name: its
// rows equal the every-request rows, which are labelled with the name.
func (c *Comparison) visibleRows() []Row {
	var out []Row
	for _, r := range c.Rows {
		if len(c.Names) <= 1 {
			if r.Request != "" {
				continue
			}
			if len(c.Names) == 1 {
				r.Request = c.Names[0]
			}
		}
		if r.Request == "" {
			r.Request = report.AllRequests
		}
		out = append(out, r)
	}
	return out
}

func (c *Comparison) noiseMethod() string {
	return fmt.Sprintf("noise: %.0f%% bootstrap interval of each change, from %d resamples of whole intervals of each run; \"beyond noise\" when it excludes zero",
		c.Confidence*100, c.Resamples)
}

func gateLine(g GateResult) string {
	verdict := "held  "
	if g.Failed {
		verdict = "FAILED"
	}
	req := g.Row.Request
	if req == "" {
		req = report.AllRequests
	}
	why := g.Row.Noise()
	switch {
	case g.Crossed && !g.Failed:
		why = "crossed, but " + why
	case !g.Crossed:
		why = "limit not crossed"
	}
	return fmt.Sprintf("%s  %s  (%s of %s in %s: %s, %s)", verdict, g.Gate.Source, g.Row.Metric, req, g.Row.Phase, g.Row.changeString(), why)
}

// WriteText prints the comparison as aligned text, one table per
// phase, then the gates.
func WriteText(w io.Writer, base, next Side, c *Comparison, gates []GateResult) error {
	fmt.Fprintf(w, "base  %s: %s (%d intervals)\n", base.File, base.Title, base.Intervals)
	fmt.Fprintf(w, "new   %s: %s (%d intervals)\n", next.File, next.Title, next.Intervals)
	fmt.Fprintln(w, c.noiseMethod())
	phase := ""
	var tw *tabwriter.Writer
	flush := func() error {
		if tw == nil {
			return nil
		}
		return tw.Flush()
	}
	for _, r := range c.visibleRows() {
		if r.Phase != phase || tw == nil {
			if err := flush(); err != nil {
				return err
			}
			phase = r.Phase
			fmt.Fprintf(w, "\nphase %s\n", phase)
			tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "  request\tmetric\tbase\tnew\tchange\t%.0f%% interval\tnoise\n", c.Confidence*100)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Request, r.Metric, formatMetric(r.Metric, r.Base), formatMetric(r.Metric, r.New),
			r.changeString(), r.intervalString(), r.Noise())
	}
	if err := flush(); err != nil {
		return err
	}
	if len(gates) > 0 {
		fmt.Fprintln(w)
		return WriteGates(w, gates)
	}
	return nil
}

// WriteGates prints the gates' verdicts, one line each.
func WriteGates(w io.Writer, gates []GateResult) error {
	fmt.Fprintln(w, "gates")
	for _, g := range gates {
		if _, err := fmt.Fprintf(w, "  %s\n", gateLine(g)); err != nil {
			return err
		}
	}
	return nil
}

// WriteMarkdown prints the comparison as Markdown tables.
func WriteMarkdown(w io.Writer, base, next Side, c *Comparison, gates []GateResult) error {
	fmt.Fprintf(w, "## faultline: comparison\n\n")
	if len(gates) > 0 {
		if AnyGateFailed(gates) {
			fmt.Fprintf(w, "❌ **a regression gate failed**\n\n")
		} else {
			fmt.Fprintf(w, "✅ **every regression gate held**\n\n")
		}
	}
	fmt.Fprintf(w, "Base %s: %s (%d intervals). New %s: %s (%d intervals).\n\n", md.Code(base.File), md.Escape(base.Title), base.Intervals,
		md.Code(next.File), md.Escape(next.Title), next.Intervals)
	fmt.Fprintf(w, "%s.\n", md.UpperFirst(md.Escape(c.noiseMethod())))
	phase := "\x00"
	for _, r := range c.visibleRows() {
		if r.Phase != phase {
			phase = r.Phase
			fmt.Fprintf(w, "\n### Phase %s\n\n| request | metric | base | new | change | %.0f%% interval | noise |\n|---|---|--:|--:|--:|--:|---|\n", md.Code(phase), c.Confidence*100)
		}
		noise := r.Noise()
		if r.Beyond {
			noise = "**" + noise + "**"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", md.Cell(r.Request), r.Metric, formatMetric(r.Metric, r.Base), formatMetric(r.Metric, r.New),
			r.changeString(), r.intervalString(), noise)
	}
	if len(gates) > 0 {
		fmt.Fprintf(w, "\n### Gates\n\n")
		for _, g := range gates {
			mark := "✅"
			if g.Failed {
				mark = "❌"
			}
			fmt.Fprintf(w, "- %s %s\n", mark, md.Escape(gateLine(g)))
		}
	}
	_, err := fmt.Fprintln(w)
	return err
}

// compareJSON is the document WriteJSON writes.
type compareJSON struct {
	Schema     string           `json:"schema"`
	Version    int              `json:"version"`
	Base       Side             `json:"base"`
	New        Side             `json:"new"`
	Resamples  int              `json:"resamples"`
	Confidence float64          `json:"confidence"`
	Rows       []compareRowJSON `json:"rows"`
	Gates      []gateJSON       `json:"gates"`
}

type compareRowJSON struct {
	Phase    string   `json:"phase"`
	Request  string   `json:"request"`
	Metric   string   `json:"metric"`
	Unit     string   `json:"unit"`
	Base     *float64 `json:"base"`
	New      *float64 `json:"new"`
	Change   *float64 `json:"change"`
	Relative *float64 `json:"relative"`
	Low      *float64 `json:"low,omitempty"`
	High     *float64 `json:"high,omitempty"`
	Noise    string   `json:"noise"`
}

type gateJSON struct {
	Gate    string `json:"gate"`
	Phase   string `json:"phase"`
	Request string `json:"request"`
	Crossed bool   `json:"crossed"`
	Failed  bool   `json:"failed"`
}

// jsonFinite returns nil for values JSON cannot hold (NaN, infinities).
func jsonFinite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// WriteJSON writes the comparison as JSON (schema
// faultline/compare). Latency values are in milliseconds, rates per second,
// error rates fractions; a request of "*" is every request together.
func WriteJSON(w io.Writer, base, next Side, c *Comparison, gates []GateResult) error {
	doc := compareJSON{Schema: Schema, Version: Version, Base: base, New: next,
		Resamples: c.Resamples, Confidence: c.Confidence, Rows: []compareRowJSON{}, Gates: []gateJSON{}}
	for _, r := range c.Rows {
		scale, unit := 1.0, "ms"
		switch unitOf(r.Metric) {
		case metric.Rate:
			unit = "per second"
		case metric.Ratio:
			unit = "fraction"
		case metric.Count:
			scale, unit = 1, "count"
		default:
			scale = 1e6
		}
		req := r.Request
		if req == "" {
			req = "*"
		}
		row := compareRowJSON{Phase: r.Phase, Request: req, Metric: r.Metric, Unit: unit,
			Base: jsonFinite(r.Base / scale), New: jsonFinite(r.New / scale), Change: jsonFinite(r.Change / scale), Relative: jsonFinite(r.Relative), Noise: r.Noise()}
		if r.Judged {
			row.Low, row.High = jsonFinite(r.Low/scale), jsonFinite(r.High/scale)
		}
		doc.Rows = append(doc.Rows, row)
	}
	for _, g := range gates {
		req := g.Row.Request
		if req == "" {
			req = "*"
		}
		doc.Gates = append(doc.Gates, gateJSON{Gate: g.Gate.Source, Phase: g.Row.Phase, Request: req, Crossed: g.Crossed, Failed: g.Failed})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
