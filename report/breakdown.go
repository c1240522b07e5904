package report

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/faultline-dev/faultline/loadgen"
)

// statusSource is what a status table reads: a span's responses by status
// code and its transport failures by class, per request name (all when
// empty). Both a merged *loadgen.Stats and one *Interval are.
type statusSource interface {
	StatusCounts(name string) map[int]int64
	ErrorsByClass(name string) map[loadgen.ErrorClass]int64
}

// statusColumns lists the status codes (ascending), then the transport
// error classes (in loadgen's order), that any of stats saw: the columns
// of a status table.
func statusColumns[S statusSource](stats ...S) []string {
	codes := map[int]bool{}
	classes := map[loadgen.ErrorClass]bool{}
	for _, s := range stats {
		for c := range s.StatusCounts("") {
			codes[c] = true
		}
		for c, n := range s.ErrorsByClass("") {
			classes[c] = classes[c] || n > 0
		}
	}
	var cols []string
	for _, c := range slices.Sorted(maps.Keys(codes)) {
		cols = append(cols, strconv.Itoa(c))
	}
	for _, c := range loadgen.ErrorClasses {
		if classes[c] {
			cols = append(cols, string(c))
		}
	}
	var extra []string // classes from a newer file
	for c, seen := range classes {
		if seen && !slices.Contains(loadgen.ErrorClasses, c) {
			extra = append(extra, string(c))
		}
	}
	slices.Sort(extra)
	return append(cols, extra...)
}

// statusCounts is how many requests of name (all when empty) ended in each
// of cols: a status code's responses or an error class's failures.
func statusCounts(s statusSource, name string, cols []string) []int64 {
	codes, classes := s.StatusCounts(name), s.ErrorsByClass(name)
	out := make([]int64, len(cols))
	for i, c := range cols {
		if code, err := strconv.Atoi(c); err == nil {
			out[i] = codes[code]
		} else {
			out[i] = classes[loadgen.ErrorClass(c)]
		}
	}
	return out
}

// statusCells formats statusCounts for a table, "-" for none.
func statusCells(s *loadgen.Stats, name string, cols []string) []string {
	counts := statusCounts(s, name, cols)
	out := make([]string, len(counts))
	for i, n := range counts {
		out[i] = "-"
		if n > 0 {
			out[i] = strconv.FormatInt(n, 10)
		}
	}
	return out
}

// statusNames are the rows of a span's status table: each request name and,
// when there are several, every request together ("" stands for it).
func statusNames(s *loadgen.Stats) []string {
	names := s.Names()
	if len(names) > 1 {
		names = append(names, "")
	}
	return names
}

func rowLabel(name string) string {
	if name == "" {
		return AllRequests
	}
	return name
}

// statusLegend says what a status table holds.
const statusLegend = "responses by HTTP status; requests that got no response by error class"

// writeStatuses prints, for each phase and request name, how many
// responses had each status code and how many requests failed without a
// response, by error class: the table that says why requests failed.
func writeStatuses(w io.Writer, r *Run) error {
	var stats []*loadgen.Stats
	for i := range r.Phases {
		stats = append(stats, r.PhaseStats(i))
	}
	cols := statusColumns(stats...)
	if len(cols) == 0 {
		return nil
	}
	var rows [][]string
	for i, p := range r.Phases {
		for _, name := range statusNames(stats[i]) {
			rows = append(rows, append([]string{p.Name, rowLabel(name)}, statusCells(stats[i], name, cols)...))
		}
	}
	fmt.Fprintln(w, statusLegend)
	return writeTable(w, append([]string{"phase", "request"}, cols...), rows, 2)
}

// writeTable prints rows under header with the first left columns flush
// left and the others flush right, indented by two spaces.
func writeTable(w io.Writer, header []string, rows [][]string, left int) error {
	widths := make([]int, left)
	for _, row := range append([][]string{header}, rows...) {
		for i := 0; i < left && i < len(row); i++ {
			widths[i] = max(widths[i], utf8.RuneCountInString(row[i]))
		}
	}
	// tabwriter aligns every column the same way: padding the first
	// columns to their width keeps them flush left while the rest align
	// right.
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, row := range append([][]string{header}, rows...) {
		cells := slices.Clone(row)
		for i := 0; i < left && i < len(cells); i++ {
			cells[i] += strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cells[i]))
		}
		fmt.Fprintf(tw, "%s\t\n", strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// failureLegend says what the failure samples are and how they are
// bounded: per "phase and request name", or per "request name".
func failureLegend(per string) string {
	return fmt.Sprintf("failing responses: at most %d per %s, each with the first %d bytes of its body (or the error)",
		loadgen.FailureSamplesPerName, per, loadgen.FailureBodyBytes)
}

// failureKind is a sample's status code, or its error class.
func failureKind(f loadgen.FailureSample) string {
	if f.Status != 0 {
		return strconv.Itoa(f.Status)
	}
	return string(f.Error)
}

// phaseFailures is the failure samples of the phase's stats, by request
// name and then as kept.
func phaseFailures(s *loadgen.Stats) []loadgen.FailureSample { return sortedFailures(s.Failures) }

// sortedFailures is failure samples by request name and then as kept.
func sortedFailures(fs []loadgen.FailureSample) []loadgen.FailureSample {
	out := slices.Clone(fs)
	slices.SortStableFunc(out, func(a, b loadgen.FailureSample) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// bodyText shows a sampled body on one line: control characters escaped
// (a terminal must not act on them), and an ellipsis when it was cut.
func bodyText(f loadgen.FailureSample) string {
	var b strings.Builder
	for _, c := range f.Body {
		switch {
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0):
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteRune(c)
		}
	}
	if f.Truncated {
		b.WriteString("…")
	}
	if b.Len() == 0 {
		return "(empty body)"
	}
	return b.String()
}

// writeFailureSamples prints the failure samples of each phase: status (or
// error class), request name and the start of the body.
func writeFailureSamples(w io.Writer, r *Run) error {
	var rows [][]string
	for i, p := range r.Phases {
		for _, f := range phaseFailures(r.PhaseStats(i)) {
			rows = append(rows, []string{p.Name, f.Name, failureKind(f), bodyText(f)})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintln(w, failureLegend("phase and request name"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  phase\trequest\tstatus\tbody")
	for _, row := range rows {
		fmt.Fprintf(tw, "  %s\n", strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// WriteBreakdown prints what the statistics tables leave out: the statuses
// and error classes per phase and request name, the failing responses and
// the links' timings, each set apart by a blank line when it has anything
// to show. The text report and the summary of `faultline run` print it.
func WriteBreakdown(w io.Writer, r *Run) error {
	for _, section := range []func(io.Writer, *Run) error{writeStatuses, writeFailureSamples, writeLinks} {
		if err := section(&blankFirst{w: w}, r); err != nil {
			return err
		}
	}
	return nil
}

// blankFirst writes a blank line before the first thing written through
// it, so that an optional section is set apart only when it is there.
type blankFirst struct {
	w       io.Writer
	started bool
}

func (b *blankFirst) Write(p []byte) (int, error) {
	if !b.started && len(p) > 0 {
		b.started = true
		if _, err := io.WriteString(b.w, "\n"); err != nil {
			return 0, err
		}
	}
	return b.w.Write(p)
}
