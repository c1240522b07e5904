package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report/internal/md"
)

func init() {
	RegisterFormat(Format{Name: "markdown", Extension: ".md", Render: writeMarkdown,
		Description: "Markdown for a CI job summary: verdict, checks, per-phase tables with statuses, error classes, failing responses and links, faults"})
}

// verdictMark prefixes a verdict with a symbol that CI pages render in
// colour.
func verdictMark(v string) string {
	switch v {
	case VerdictHeld:
		return "✅ held"
	case VerdictInconclusive:
		return "❔ inconclusive"
	default:
		return "❌ " + v
	}
}

// writeMarkdown writes the run as GitHub-flavoured Markdown, for a CI job
// summary ($GITHUB_STEP_SUMMARY) or a pull-request comment.
func writeMarkdown(w io.Writer, r *Run, _ Options) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	p("## faultline: %s\n\n", md.Escape(r.Title))
	mark := "✅"
	if r.failures() > 0 {
		mark = "❌"
	}
	if len(r.Checks) == 0 {
		mark = "ℹ️"
	}
	p("%s **%s**\n\n", mark, verdictLine(r))
	p("%s. Started %s, lasted %s, %d intervals.\n\n", md.UpperFirst(modelLine(r)),
		r.Start.UTC().Format("2006-01-02 15:04:05 MST"), r.End.Sub(r.Start).Round(time.Millisecond), r.IntervalCount())
	if len(r.Checks) > 0 {
		p("### Checks\n\n| verdict | phase | check | measured | detail |\n|---|---|---|---|---|\n")
		for _, c := range r.Checks {
			phase := c.Phase
			if phase == "" {
				phase = "run"
			}
			p("| %s | %s | %s | %s | %s |\n", verdictMark(c.Verdict), md.Cell(phase), md.Code(c.Expression), md.Cell(c.Measured), md.Cell(c.Detail))
		}
		p("\n")
	}
	links := r.linkStats()
	for i, ph := range r.Phases {
		p("### Phase %s (%s)\n\n", md.Code(ph.Name), spanString(r.Start, ph.Start, ph.End))
		st := r.PhaseStats(i)
		rows := tableRows(st)
		if len(rows) == 0 {
			p("No requests completed.\n\n")
		} else {
			p("| request | %s |\n|---|%s\n", strings.Join(statColumns, " | "), strings.Repeat("--:|", len(statColumns)))
			for _, row := range rows {
				p("| %s | %s |\n", md.Cell(row.Name), strings.Join(row.cells(), " | "))
			}
			p("\n")
		}
		writeMarkdownBreakdown(bw, st)
		var phaseLinks []linkStat
		for _, ls := range links {
			if ls.Phase == ph.Name {
				phaseLinks = append(phaseLinks, ls)
			}
		}
		if len(phaseLinks) > 0 {
			p("%s:\n\n| link | %s |\n|---|%s\n", md.UpperFirst(linkLegend), strings.Join(linkColumns, " | "), strings.Repeat("--:|", len(linkColumns)))
			for _, ls := range phaseLinks {
				p("| %s | %s |\n", md.Cell(ls.Label), strings.Join(ls.cells(), " | "))
			}
			p("\n")
		}
	}
	if len(r.Faults) > 0 {
		p("### Faults\n\n| fault | kind | target | injected | reverted |\n|---|---|---|--:|--:|\n")
		for _, f := range r.Faults {
			reverted := offsetString(r.Start, f.Reverted)
			if f.Reverted.IsZero() {
				reverted = "**never reverted**"
			}
			p("| %s | %s | %s | %s | %s |\n", md.Cell(f.Name), md.Cell(f.Kind), md.Cell(f.Target), offsetString(r.Start, f.Injected), reverted)
		}
		p("\n")
	}
	return bw.Flush()
}

// writeMarkdownBreakdown writes a phase's statuses and error classes per
// request name, and its failure samples.
func writeMarkdownBreakdown(w io.Writer, st *loadgen.Stats) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	if cols := statusColumns(st); len(cols) > 0 {
		p("%s:\n\n| request | %s |\n|---|%s\n", md.UpperFirst(statusLegend), strings.Join(cols, " | "), strings.Repeat("--:|", len(cols)))
		for _, name := range statusNames(st) {
			p("| %s | %s |\n", md.Cell(rowLabel(name)), strings.Join(statusCells(st, name, cols), " | "))
		}
		p("\n")
	}
	if fs := phaseFailures(st); len(fs) > 0 {
		p("%s:\n\n| request | status | body |\n|---|---|---|\n", md.UpperFirst(failureLegend("request name")))
		for _, f := range fs {
			p("| %s | %s | %s |\n", md.Cell(f.Name), md.Cell(failureKind(f)), md.Code(bodyText(f)))
		}
		p("\n")
	}
}
