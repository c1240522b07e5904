package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"time"
)

func init() {
	RegisterFormat(Format{Name: "junit", Extension: ".xml", Render: writeJUnit,
		Description: "JUnit XML: one test suite per phase (its statistics, statuses, failing responses and links in system-out), one test case per threshold or hypothesis"})
}

type junitSuites struct {
	XMLName   xml.Name     `xml:"testsuites"`
	Name      string       `xml:"name,attr"`
	Tests     int          `xml:"tests,attr"`
	Failures  int          `xml:"failures,attr"`
	Errors    int          `xml:"errors,attr"`
	Time      string       `xml:"time,attr"`
	Timestamp string       `xml:"timestamp,attr"`
	Suites    []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Cases     []junitCase `xml:"testcase"`
	SystemOut *junitText  `xml:"system-out,omitempty"`
}

type junitText struct {
	Text string `xml:",cdata"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func junitSeconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// writeJUnit writes the checks as JUnit XML for CI: a test suite per phase
// (and one named "run" for checks on the whole run), a test case per check.
// A failed or deviated check is a <failure>; an inconclusive one, which
// could not be judged, is an <error>. Each suite's <system-out> holds the
// phase's statistics table.
func writeJUnit(w io.Writer, r *Run, _ Options) error {
	doc := junitSuites{Name: r.Title, Time: junitSeconds(r.End.Sub(r.Start)), Timestamp: r.Start.UTC().Format(time.RFC3339)}
	suite := func(name string, from, to time.Time, out string) *junitSuite {
		s := junitSuite{Name: name, Time: junitSeconds(to.Sub(from)), Timestamp: from.UTC().Format(time.RFC3339)}
		if out != "" {
			s.SystemOut = &junitText{out}
		}
		for _, c := range r.Checks {
			if c.Phase != name && (c.Phase != "" || name != "run") {
				continue
			}
			tc := junitCase{Name: c.Expression, Classname: "faultline." + name, Time: "0"}
			detail := checkDetail(c)
			switch c.Verdict {
			case VerdictHeld:
			case VerdictInconclusive:
				tc.Error = &junitProblem{Message: detail, Type: c.Verdict, Text: c.Expression + ": " + detail}
				s.Errors++
			default:
				tc.Failure = &junitProblem{Message: detail, Type: c.Verdict, Text: c.Expression + ": " + detail}
				s.Failures++
			}
			s.Cases = append(s.Cases, tc)
		}
		s.Tests = len(s.Cases)
		return &s
	}
	known := map[string]bool{}
	links := r.linkStats()
	for i, p := range r.Phases {
		known[p.Name] = true
		doc.Suites = append(doc.Suites, *suite(p.Name, p.Start, p.End, phaseTable(r, i, links)))
	}
	// Checks on the whole run, or on a phase the run does not list, still
	// become test cases.
	var extra []string
	for _, c := range r.Checks {
		name := c.Phase
		if name == "" {
			name = "run"
		}
		if !known[name] {
			known[name] = true
			extra = append(extra, name)
		}
	}
	for _, name := range extra {
		doc.Suites = append(doc.Suites, *suite(name, r.Start, r.End, ""))
	}
	for _, s := range doc.Suites {
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// phaseTable is the statistics of phase i as plain text: the statistics
// table, the statuses and error classes, the failing responses and the
// links (of every phase: r.linkStats()). Writing to memory cannot fail, so
// errors are not checked.
func phaseTable(r *Run, i int, links []linkStat) string {
	st := r.PhaseStats(i)
	rows := tableRows(st)
	if len(rows) == 0 {
		return "no requests completed\n"
	}
	var b bytes.Buffer
	_ = writeStatTable(&b, rows)
	if cols := statusColumns(st); len(cols) > 0 {
		var srows [][]string
		for _, name := range statusNames(st) {
			srows = append(srows, append([]string{rowLabel(name)}, statusCells(st, name, cols)...))
		}
		fmt.Fprintf(&b, "\n%s\n", statusLegend)
		_ = writeTable(&b, append([]string{"request"}, cols...), srows, 1)
	}
	if fs := phaseFailures(st); len(fs) > 0 {
		fmt.Fprintf(&b, "\n%s\n", failureLegend("request name"))
		for _, f := range fs {
			fmt.Fprintf(&b, "  %s  %s  %s\n", f.Name, failureKind(f), bodyText(f))
		}
	}
	var lrows [][]string
	for _, ls := range links {
		if ls.Phase == r.Phases[i].Name {
			lrows = append(lrows, append([]string{ls.Label}, ls.cells()...))
		}
	}
	if len(lrows) > 0 {
		fmt.Fprintf(&b, "\n%s\n", linkLegend)
		_ = writeTable(&b, append([]string{"link"}, linkColumns...), lrows, 1)
	}
	return b.String()
}
