package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/loadgen"
)

// TestEveryFormatShowsWhyRequestsFailed renders the experiment fixture,
// whose fault phase fails with 503s (GET /products) and timeouts (POST
// /orders), and looks for the statuses, the error class, a failing body and
// the link's latency in each format that carries them.
func TestEveryFormatShowsWhyRequestsFailed(t *testing.T) {
	t.Parallel()
	body := `{"error":"store unavailable","request":9}`
	cases := []struct {
		format string
		want   []string
	}{
		{"text", []string{statusLegend, "fault     GET /products   720   80        -", "fault     POST /orders    720    -       80",
			failureLegend("phase and request name"), `fault  GET /products  503      ` + body + `\n`, "timeout  read tcp", "checkout->catalog (proxy catalog)  fault         16       1  208ms"}},
		{"markdown", []string{"| GET /products | 720 | 80 | - |", "| POST /orders | 720 | - | 80 |", "| GET /products | 503 | `" + body, "| 16 | 1 | 208ms |"}},
		{"html", []string{"<th>503</th><th>timeout</th>", "<td>GET /products</td><td>503</td><td><code>{&#34;error&#34;:&#34;store unavailable&#34;", "<td>16</td><td>1</td><td>208ms</td>"}},
		{"json", []string{`"status": {`, `"503": 80`, `"timeout": 80`, `"body": "{\"error\":\"store unavailable\",\"request\":9}\n"`, `"link": "checkout-\u003ecatalog (proxy catalog)"`}},
		{"junit", []string{"GET /products   720   80        -", "GET /products  503  " + body, "checkout->catalog (proxy catalog)      16       1  208ms"}},
		{"csv", []string{",200=180;503=20,", ",200=180,timeout=20"}},
		{"prometheus", []string{`faultline_responses_total{code="503",phase="fault",request="GET /products"} 80`,
			`faultline_transport_errors_total{class="timeout",phase="fault",request="POST /orders"} 80`}},
	}
	run := experimentRun()
	for _, c := range cases {
		t.Run(c.format, func(t *testing.T) {
			t.Parallel()
			f, _ := LookupFormat(c.format)
			var buf bytes.Buffer
			if err := f.Render(&buf, run, Options{}); err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("%s lacks %q", c.format, w)
				}
			}
		})
	}
}

func TestBodyTextIsOneSafeLine(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		body      string
		truncated bool
		want      string
	}{
		{"a\r\nb\tc", false, `a\r\nb\tc`},
		{"\x1b[31mred", true, `\x1b[31mred…`},
		{"", false, "(empty body)"},
		{"héllo", false, "héllo"},
	} {
		if got := bodyText(loadgenFailure(c.body, c.truncated)); got != c.want {
			t.Errorf("bodyText(%q) = %q, want %q", c.body, got, c.want)
		}
	}
}

func loadgenFailure(body string, truncated bool) loadgen.FailureSample {
	return loadgen.FailureSample{Name: "a", Status: 400, Body: body, Truncated: truncated}
}
