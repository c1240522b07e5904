package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
)

func init() {
	RegisterFormat(Format{Name: "markdown", Extension: ".md", Render: WriteMarkdown,
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

// mdCell escapes text for a Markdown table cell.
func mdCell(s string) string {
	s = mdEscape(strings.NewReplacer("\n", " ", "\r", " ").Replace(s))
	if s == "" {
		return " "
	}
	return s
}

// mdCode puts s in a code span, with a fence longer than any backtick run
// inside it.
func mdCode(s string) string {
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	pad := ""
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		pad = " "
	}
	return fence + pad + strings.ReplaceAll(s, "|", `\|`) + pad + fence
}

// WriteMarkdown writes the run as GitHub-flavoured Markdown, for a CI job
// summary ($GITHUB_STEP_SUMMARY) or a pull-request comment.
func WriteMarkdown(w io.Writer, r *Run, _ Options) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	p("## faultline: %s\n\n", mdEscape(r.Title))
	mark := "✅"
	if r.Failures() > 0 {
		mark = "❌"
	}
	if len(r.Checks) == 0 {
		mark = "ℹ️"
	}
	p("%s **%s**\n\n", mark, verdictLine(r))
	p("%s. Started %s, lasted %s, %d intervals.\n\n", upperFirst(modelLine(r)),
		r.Start.UTC().Format("2006-01-02 15:04:05 MST"), r.End.Sub(r.Start).Round(time.Millisecond), len(r.Intervals))
	if len(r.Checks) > 0 {
		p("### Checks\n\n| verdict | phase | check | measured | detail |\n|---|---|---|---|---|\n")
		for _, c := range r.Checks {
			phase := c.Phase
			if phase == "" {
				phase = "run"
			}
			p("| %s | %s | %s | %s | %s |\n", verdictMark(c.Verdict), mdCell(phase), mdCode(c.Expression), mdCell(c.Measured), mdCell(c.Detail))
		}
		p("\n")
	}
	links := r.linkStats()
	for i, ph := range r.Phases {
		p("### Phase %s (%s)\n\n", mdCode(ph.Name), spanString(r.Start, ph.Start, ph.End))
		st := r.PhaseStats(i)
		rows := tableRows(st)
		if len(rows) == 0 {
			p("No requests completed.\n\n")
		} else {
			p("| request | %s |\n|---|%s\n", strings.Join(statColumns, " | "), strings.Repeat("--:|", len(statColumns)))
			for _, row := range rows {
				p("| %s | %s |\n", mdCell(row.Name), strings.Join(row.cells(), " | "))
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
			p("%s:\n\n| link | %s |\n|---|%s\n", upperFirst(LinkLegend), strings.Join(linkColumns, " | "), strings.Repeat("--:|", len(linkColumns)))
			for _, ls := range phaseLinks {
				p("| %s | %s |\n", mdCell(ls.Label), strings.Join(ls.cells(), " | "))
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
			p("| %s | %s | %s | %s | %s |\n", mdCell(f.Name), mdCell(f.Kind), mdCell(f.Target), offsetString(r.Start, f.Injected), reverted)
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
		p("%s:\n\n| request | %s |\n|---|%s\n", upperFirst(StatusLegend), strings.Join(cols, " | "), strings.Repeat("--:|", len(cols)))
		for _, name := range statusNames(st) {
			p("| %s | %s |\n", mdCell(rowLabel(name)), strings.Join(statusCells(st, name, cols), " | "))
		}
		p("\n")
	}
	if fs := phaseFailures(st); len(fs) > 0 {
		p("%s:\n\n| request | status | body |\n|---|---|---|\n", upperFirst(failureLegend("request name")))
		for _, f := range fs {
			p("| %s | %s | %s |\n", mdCell(f.Name), mdCell(failureKind(f)), mdCode(bodyText(f)))
		}
		p("\n")
	}
}

// mdEscape keeps text from being read as Markdown markup.
func mdEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "`", "\\`", "<", "&lt;", ">", "&gt;", "[", `\[`, "]", `\]`, "#", `\#`, "|", `\|`).Replace(s)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
