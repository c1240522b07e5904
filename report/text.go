package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/faultline-dev/faultline/loadgen"
)

func init() {
	RegisterFormat(Format{Name: "text", Extension: ".txt", Render: writeText,
		Description: "terminal summary: per phase and request name, count, rate, errors, percentiles, mean, stdev; statuses and error classes; failing responses; links; faults; checks"})
}

// AllRequests labels the row that merges every request name in tables.
const AllRequests = "all requests"

// statRow is one row of a statistics table: a request name (or every
// request) over a span.
type statRow struct {
	Name      string
	Count     int64
	Failed    int64
	ErrorRate float64
	Rate      float64
	Latency   Percentiles
}

func rowOf(s *loadgen.Stats, name, label string) statRow {
	return statRow{
		Name: label, Count: s.Completed(name), Failed: s.Failed(name), ErrorRate: s.ErrorRate(name),
		Rate: s.Rate(name), Latency: SummarizeHistogram(s.Latency(name)),
	}
}

// tableRows lists one row per request name and, when there is more than
// one name, a last row for every request.
func tableRows(s *loadgen.Stats) []statRow {
	names := s.Names()
	rows := make([]statRow, 0, len(names)+1)
	for _, n := range names {
		rows = append(rows, rowOf(s, n, n))
	}
	if len(names) > 1 {
		rows = append(rows, rowOf(s, "", AllRequests))
	}
	return rows
}

// statColumns are the headings of a statistics table after the name.
var statColumns = []string{"count", "rate", "errors", "p50", "p90", "p99", "p99.9", "p99.99", "max", "mean", "stdev"}

// cells formats a row's statistics in the order of statColumns.
func (r statRow) cells() []string {
	l := r.Latency
	lat := func(v float64) string {
		if l.Count == 0 {
			return "-"
		}
		return msHuman(v)
	}
	return []string{
		strconv.FormatInt(r.Count, 10), perSecond(r.Rate), fmt.Sprintf("%d (%s)", r.Failed, percent(r.ErrorRate)),
		lat(l.P50), lat(l.P90), lat(l.P99), lat(l.P999), lat(l.P9999), lat(l.Max), lat(l.Mean), lat(l.StdDev),
	}
}

// writeStatTable prints rows as a table with the names left-aligned and the
// figures right-aligned.
func writeStatTable(w io.Writer, rows []statRow) error {
	width := len("request")
	for _, row := range rows {
		width = max(width, utf8.RuneCountInString(row.Name))
	}
	// tabwriter aligns every column the same way: padding the names to one
	// width keeps them flush left while the figures align right.
	pad := func(s string) string { return s + strings.Repeat(" ", width-utf8.RuneCountInString(s)) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\t%s\t\n", pad("request"), strings.Join(statColumns, "\t"))
	for _, row := range rows {
		fmt.Fprintf(tw, "%s\t%s\t\n", pad(row.Name), strings.Join(row.cells(), "\t"))
	}
	return tw.Flush()
}

// offsetString prints the time of t from the start of the run: "+2.5s".
func offsetString(start, t time.Time) string {
	return "+" + t.Sub(start).Round(time.Millisecond).String()
}

// spanString prints a span of the run's timeline: "+0s..+10s".
func spanString(start, from, to time.Time) string {
	return offsetString(start, from) + ".." + offsetString(start, to)
}

func modelLine(r *Run) string {
	if r.Model == loadgen.Closed {
		return "closed model (virtual users): latency is service time, measured from the send"
	}
	return "open model (arrival rate): latency measured from each request's intended start"
}

// revertedOrEnd is when a fault stopped: its revert, or the end of the run.
func (r *Run) revertedOrEnd(f FaultWindow) time.Time {
	if f.Reverted.IsZero() {
		return r.End
	}
	return f.Reverted
}

// writeText prints the run as aligned tables for a terminal.
func writeText(w io.Writer, r *Run, _ Options) error {
	fmt.Fprintln(w, r.Title)
	fmt.Fprintln(w, modelLine(r))
	fmt.Fprintf(w, "started %s, lasted %s, %d intervals\n",
		r.Start.UTC().Format("2006-01-02 15:04:05.000 MST"), r.End.Sub(r.Start).Round(time.Millisecond), r.IntervalCount())
	for i, p := range r.Phases {
		fmt.Fprintf(w, "\nphase %s  %s\n", p.Name, spanString(r.Start, p.Start, p.End))
		rows := tableRows(r.PhaseStats(i))
		if len(rows) == 0 {
			fmt.Fprintln(w, "  no requests completed")
			continue
		}
		if err := writeStatTable(w, rows); err != nil {
			return err
		}
	}
	if err := WriteBreakdown(w, r); err != nil {
		return err
	}
	if len(r.Faults) > 0 {
		fmt.Fprintln(w, "\nfaults")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, f := range r.Faults {
			reverted := offsetString(r.Start, f.Reverted)
			if f.Reverted.IsZero() {
				reverted = "never reverted"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\tinjected %s\treverted %s\n", f.Name, f.Kind, f.Target, offsetString(r.Start, f.Injected), reverted)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Checks) > 0 {
		fmt.Fprintln(w, "\nchecks")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range r.Checks {
			phase := c.Phase
			if phase == "" {
				phase = "run"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", verdictWord(c.Verdict), phase, c.Expression, checkDetail(c))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, "\n"+verdictLine(r))
	return err
}

// verdictWord makes failures stand out in plain text.
func verdictWord(v string) string {
	if v == VerdictHeld {
		return v
	}
	return strings.ToUpper(v)
}

// checkDetail is what was measured, and any detail, in one phrase.
func checkDetail(c Check) string {
	switch {
	case c.Detail != "":
		return c.Detail
	case c.Measured != "":
		return "measured " + c.Measured
	}
	return ""
}

// verdictLine sums the checks up in one sentence.
func verdictLine(r *Run) string {
	n, failed := len(r.Checks), r.failures()
	switch {
	case n == 0:
		return "no thresholds or hypotheses were checked"
	case failed == 0 && n == 1:
		return "the check held"
	case failed == 0:
		return fmt.Sprintf("all %d checks held", n)
	default:
		return fmt.Sprintf("%d of %d checks did not hold", failed, n)
	}
}
