package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/report/internal/fixture"
)

// TestFormatsGolden renders both fixture runs in every text format and
// compares with the golden files (go test ./report -update rewrites them).
func TestFormatsGolden(t *testing.T) {
	t.Parallel()
	runs := map[string]*Run{"experiment": experimentRun(), "load": loadRun(t)}
	for _, f := range Formats() {
		for name, run := range runs {
			t.Run(f.Name+"/"+name, func(t *testing.T) {
				t.Parallel()
				var buf bytes.Buffer
				if err := f.Render(&buf, run, Options{}); err != nil {
					t.Fatal(err)
				}
				if buf.Len() == 0 {
					t.Fatal("rendered nothing")
				}
				fixture.Golden(t, "render-"+name+f.Extension, buf.Bytes())
			})
		}
	}
}

func TestFormatsRegistered(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"text", "hgrm", "hlog", "json", "csv", "junit", "markdown", "html"} {
		f, ok := LookupFormat(name)
		if !ok || f.Render == nil || f.Extension == "" || f.Description == "" {
			t.Errorf("format %q: registered %v, %+v", name, ok, f)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("registering a format twice did not panic")
		}
	}()
	RegisterFormat(Format{Name: "text"})
}

func TestTextShowsEveryPhaseAndCheck(t *testing.T) {
	t.Parallel()
	run := experimentRun()
	var buf bytes.Buffer
	if err := writeText(&buf, run, Options{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"phase baseline  +0s..+4s", "phase fault  +4s..+8s", "phase recovery  +8s..+12s",
		"request", "p99.99", "stdev", "GET /products", "POST /orders", AllRequests,
		"slow-catalog", "DEVIATED", "INCONCLUSIVE", "3 of 4 checks did not hold",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	// The fault phase fails one request in ten, the others none.
	if !strings.Contains(out, "160 (10%)") || !strings.Contains(out, "0 (0%)") {
		t.Errorf("error counts:\n%s", out)
	}
}

func TestJSONReport(t *testing.T) {
	t.Parallel()
	run := experimentRun()
	var buf bytes.Buffer
	if err := writeJSON(&buf, run, Options{}); err != nil {
		t.Fatal(err)
	}
	var doc ReportJSON
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != ReportSchema || doc.Version != ReportVersion {
		t.Errorf("schema %q version %d", doc.Schema, doc.Version)
	}
	if len(doc.Intervals) != 12 || len(doc.Phases) != 3 || len(doc.Checks) != 4 || len(doc.Faults) != 1 {
		t.Fatalf("intervals %d phases %d checks %d faults %d", len(doc.Intervals), len(doc.Phases), len(doc.Checks), len(doc.Faults))
	}
	var sum int64
	for i, iv := range doc.Intervals {
		sum += iv.All.Count
		wantPhase := []string{"baseline", "fault", "recovery"}[i/4]
		if iv.Phase != wantPhase || iv.All.Count != 400 || len(iv.Requests) != 2 {
			t.Errorf("interval %d: phase %q count %d requests %d", i, iv.Phase, iv.All.Count, len(iv.Requests))
		}
	}
	if sum != doc.Total.All.Count || sum != 4800 {
		t.Errorf("intervals sum to %d, total %d", sum, doc.Total.All.Count)
	}
	if f := doc.Phases[1]; f.All.Failed != 160 || f.All.Rate != 400 || f.All.Latency.P50 < 20 {
		t.Errorf("fault phase: %+v", f.All)
	}
}

func TestCSVReport(t *testing.T) {
	t.Parallel()
	run := experimentRun()
	var buf bytes.Buffer
	if err := writeCSV(&buf, run, Options{Scale: Microseconds, Unit: "us"}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+12*3 {
		t.Fatalf("%d rows, want a header and 3 per interval", len(rows))
	}
	if rows[0][12] != "p50_us" || rows[0][4] != "request" {
		t.Errorf("header %v", rows[0])
	}
	if rows[1][4] != "*" || rows[1][9] != "400" || rows[2][9] != "" {
		t.Errorf("first interval rows: %v / %v", rows[1], rows[2])
	}
	if rows[1][0] != "2023-11-14T22:13:20.123Z" || rows[4][1] != "1" {
		t.Errorf("times: %q, %q", rows[1][0], rows[4][1])
	}
}

func TestJUnitReport(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := writeJUnit(&buf, experimentRun(), Options{}); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tests != 4 || doc.Failures != 2 || doc.Errors != 1 || len(doc.Suites) != 3 {
		t.Fatalf("tests %d failures %d errors %d suites %d", doc.Tests, doc.Failures, doc.Errors, len(doc.Suites))
	}
	fault := doc.Suites[1]
	if fault.Name != "fault" || fault.Tests != 2 || fault.Cases[1].Failure == nil || fault.Cases[1].Failure.Type != VerdictFailed {
		t.Errorf("fault suite: %+v", fault)
	}
	if fault.SystemOut == nil || !strings.Contains(fault.SystemOut.Text, "POST /orders") {
		t.Errorf("system-out: %+v", fault.SystemOut)
	}
	rec := doc.Suites[2].Cases[0]
	if rec.Error == nil || !strings.Contains(rec.Error.Message, "<in> the window & more") {
		t.Errorf("inconclusive case: %+v", rec)
	}
}

func TestMarkdownReport(t *testing.T) {
	t.Parallel()
	run := experimentRun()
	run.Checks = append(run.Checks, Check{Expression: "a|b`c", Verdict: VerdictHeld, Detail: "x|y"})
	var buf bytes.Buffer
	if err := writeMarkdown(&buf, run, Options{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"❌ **3 of 5 checks did not hold**", "| ✅ held | run | ``a\\|b`c`` | ", "x\\|y",
		"### Phase `fault` (+4s..+8s)", "| request | count | rate |", "| slow-catalog | latency | catalog | +4s | +8s |"} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
	// Every table row has as many cells as its header.
	var cols int
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "|") {
			cols = 0
			continue
		}
		n := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|")
		if cols == 0 {
			cols = n
		} else if n != cols {
			t.Errorf("row %q has %d separators, its header %d", line, n, cols)
		}
	}
}
