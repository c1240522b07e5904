package report

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/faultline-dev/faultline/loadgen"
)

// LinkProbe is one request faultline sent through a proxy to the service
// behind it, timed: how the link the proxy stands on answered at that
// moment. The load measures the edge (what users see), where a cache or a
// retry may hide a fault completely; the probes measure where the fault acts.
type LinkProbe struct {
	Proxy string
	Link  string // from->to, for a link of the bundled services
	At    time.Time
	// Latency is from the send to the whole response (or the failure).
	Latency time.Duration
	Status  int
	Error   string
}

// Failed reports a probe that got no response or an error status.
func (p LinkProbe) Failed() bool { return p.Error != "" || p.Status >= 400 }

// linkLegend says what the link table holds.
const linkLegend = "links: faultline's own requests through each proxy to the service behind it, timed, beside the edge (the load's p99)"

// linkStat is one proxy's probes over one phase.
type linkStat struct {
	Label, Phase   string
	Probes, Failed int64
	Latency        Percentiles
	EdgeP99        float64 // the load's p99 over the phase, ms; NaN-free: 0 with no requests
	EdgeCount      int64
}

func (p LinkProbe) label() string {
	if p.Link == "" {
		return "proxy " + p.Proxy
	}
	return p.Link + " (proxy " + p.Proxy + ")"
}

// linkStats summarises the probes of every proxy in every phase, proxies in
// the order they were first probed, then phases in order.
func (r *Run) linkStats() []linkStat {
	if r.links != nil {
		return r.links.linkStats(r)
	}
	var labels []string
	byLabel := map[string][]LinkProbe{}
	for _, p := range r.Links {
		l := p.label()
		if _, ok := byLabel[l]; !ok {
			labels = append(labels, l)
		}
		byLabel[l] = append(byLabel[l], p)
	}
	if len(labels) == 0 {
		return nil
	}
	edge := make([]Percentiles, len(r.Phases))
	for i := range r.Phases {
		edge[i] = SummarizeHistogram(r.PhaseStats(i).Latency(""))
	}
	var out []linkStat
	for _, l := range labels {
		for i, ph := range r.Phases {
			h := loadgen.NewHistogram()
			st := linkStat{Label: l, Phase: ph.Name, EdgeP99: edge[i].P99, EdgeCount: edge[i].Count}
			for _, p := range byLabel[l] {
				if p.At.Before(ph.Start) || !p.At.Before(ph.End) {
					continue
				}
				st.Probes++
				if p.Failed() {
					st.Failed++
				}
				_ = h.RecordValue(min(max(int64(p.Latency), loadgen.HistLowest), loadgen.HistHighest))
			}
			if st.Probes == 0 {
				continue // the phase did not run (an abort, a failed steady state)
			}
			st.Latency = SummarizeHistogram(h)
			out = append(out, st)
		}
	}
	return out
}

// cells formats a link stat in the order of linkColumns.
func (s linkStat) cells() []string {
	lat := func(v float64, n int64) string {
		if n == 0 {
			return "-"
		}
		return msHuman(v)
	}
	return []string{strconv.FormatInt(s.Probes, 10), strconv.FormatInt(s.Failed, 10),
		lat(s.Latency.P50, s.Probes), lat(s.Latency.P90, s.Probes), lat(s.Latency.Max, s.Probes), lat(s.EdgeP99, s.EdgeCount)}
}

// linkColumns head the figures of a link table.
var linkColumns = []string{"probes", "failed", "p50", "p90", "max", "edge p99"}

// writeLinks prints, for each proxy and phase, how long faultline's own
// requests through the proxy took, beside the load's p99 over the phase.
func writeLinks(w io.Writer, r *Run) error {
	stats := r.linkStats()
	if len(stats) == 0 {
		return nil
	}
	rows := make([][]string, len(stats))
	for i, s := range stats {
		rows[i] = append([]string{s.Label, s.Phase}, s.cells()...)
	}
	fmt.Fprintln(w, linkLegend)
	return writeTable(w, append([]string{"link", "phase"}, linkColumns...), rows, 2)
}

// linkPlot draws every timed request through each proxy over time beside
// the edge's p99 per interval, on one axis: a fault the edge hides shows on
// its link.
func linkPlot(r *Run) (*plot.Plot, error) {
	maxNs := 1.0
	var edge plotter.XYs
	points, err := r.plotPoints()
	if err != nil {
		return nil, err
	}
	for i := range points {
		if points[i].latencies > 0 {
			v := float64(points[i].p99)
			maxNs = math.Max(maxNs, v)
			edge = append(edge, plotter.XY{X: r.midpoint(&points[i]), Y: v})
		}
	}
	var labels []string
	lines := map[string]plotter.XYs{}
	for _, p := range r.Links {
		l := p.label()
		if _, ok := lines[l]; !ok {
			labels = append(labels, l)
		}
		lines[l] = append(lines[l], plotter.XY{X: r.offset(p.At), Y: float64(p.Latency)})
		maxNs = math.Max(maxNs, float64(p.Latency))
	}
	scale, unit := latencyUnit(maxNs)
	p, err := timelinePlot(r, "Links beside the edge", "latency ("+unit+")", maxNs/scale)
	if err != nil {
		return nil, fmt.Errorf("link plot: %w", err)
	}
	add := func(label string, xys plotter.XYs, i int) error {
		for j := range xys {
			xys[j].Y /= scale
		}
		l, err := newLine(xys, linkColors[i%len(linkColors)], vg.Points(2), false)
		if err != nil {
			return fmt.Errorf("link plot: %w", err)
		}
		p.Add(l)
		p.Legend.Add(label, l)
		return nil
	}
	if len(edge) > 0 {
		if err := add("edge p99", edge, 0); err != nil {
			return nil, err
		}
	}
	for i, l := range labels {
		if err := add(l, lines[l], i+1); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// linkColors colour the link plot's lines: the edge first, as the latency
// plot draws p99, then each link.
var linkColors = []color.Color{colorP99, colorLink, colorP50, colorOK, colorMax}
