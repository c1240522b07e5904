package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// TestHTMLIsSelfContained scans the page for anything a browser would
// fetch: the page holds no URL at all, no external script, style sheet,
// image or font.
func TestHTMLIsSelfContained(t *testing.T) {
	t.Parallel()
	for name, run := range map[string]*Run{"experiment": experimentRun(), "load": loadRun(t)} {
		var buf bytes.Buffer
		if err := writeHTML(&buf, run, Options{}); err != nil {
			t.Fatal(err)
		}
		page := buf.String()
		lower := strings.ToLower(page)
		for _, bad := range []string{"http://", "https://", "//fonts.", "src=", "href=", "url(", "@import", "<script", "<link", "<iframe", "<object", "<embed", "xlink:"} {
			if i := strings.Index(lower, bad); i >= 0 {
				t.Errorf("%s: the page holds %q: ...%s...", name, bad, page[max(0, i-60):min(len(page), i+60)])
			}
		}
		// The experiment timed a link: its plot comes fourth.
		want := map[string]int{"experiment": 4, "load": 3}[name]
		if n := strings.Count(page, "<svg"); n != want {
			t.Errorf("%s: %d inline SVG plots, want %d", name, n, want)
		}
		if (name == "experiment") != strings.Contains(page, `id="links"`) {
			t.Errorf("%s: the link plot is there %v, the run timed links %v", name, strings.Contains(page, `id="links"`), name == "experiment")
		}
		for _, id := range []string{`id="spectrum"`, `id="latency"`, `id="throughput"`} {
			if !strings.Contains(page, id) {
				t.Errorf("%s: no figure %s", name, id)
			}
		}
		// Every SVG drew its lines: gonum/plot writes paths with the
		// series colours.
		if !strings.Contains(lower, "stroke:#1f77b4") || !strings.Contains(lower, "stroke:#2ca02c") {
			t.Errorf("%s: series colours missing from the SVG", name)
		}
	}
}

func TestHTMLContent(t *testing.T) {
	t.Parallel()
	run := experimentRun()
	run.Title = `<b>"quoted" & title</b>`
	run.Intervals[0].Series[0].Name = "GET /a?b=<c>&d"
	var buf bytes.Buffer
	if err := writeHTML(&buf, run, Options{}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{
		"<title>faultline: &lt;b&gt;&#34;quoted&#34; &amp; title&lt;/b&gt;</title>",
		`<div class="verdict failed">3 of 4 checks did not hold</div>`,
		`<td class="held">held</td><td>baseline</td><td><code>p99&lt;50ms</code></td>`,
		`<td class="inconclusive">INCONCLUSIVE</td>`,
		// html/template writes "+" as "&#43;".
		"<h2>Phase <code>fault</code> <span class=\"meta\">&#43;4s..&#43;8s</span></h2>",
		"<td>slow-catalog</td><td>latency</td><td>catalog</td><td>&#43;4s</td><td>&#43;8s</td>",
		"GET /a?b=&lt;c&gt;&amp;d",
		"Latency by percentile", "Latency over time", "Throughput and errors over time",
		"fault injected", "baseline", "recovery", "90%", "99.9%",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if regexp.MustCompile(`<[^>]*GET /a\?b=<c>`).MatchString(page) {
		t.Error("a request name reached the page unescaped")
	}
}
