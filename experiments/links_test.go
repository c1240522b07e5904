package experiments

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestLinkTimingShowsTheFaultWhereItActs runs the shop with the catalog ->
// store link behind a proxy and 400 ms of latency on it in the middle phase
// (far above what a busy machine adds to a probe: it measured 155 ms under
// the race detector at load 21).
// The cache keeps the load's reads off the link, so the edge may show
// nothing; the link's own timing must show the fault, phase by phase, in
// the journal, the run's summary and its reports.
func TestLinkTimingShowsTheFaultWhereItActs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an experiment (about 8 s)")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "link.yaml")
	if err := os.WriteFile(file, []byte(`name: link-timing
targets:
  shop: true
  catalog:
    cache:
      ttl: 60s
proxies:
  - name: store
    link: catalog->store
load:
  rate: 50/s
  requests:
    - name: product
      url: ${targets.gateway}/api/products/p001
phases:
  - name: baseline
    duration: 2s
  - name: slow
    duration: 3s
    faults:
      - kind: latency
        proxy: store
        latency: 400ms
  - name: recovery
    duration: 2s
report:
  formats: [text, html]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	plan, err := Open(t.Context(), file, Options{TimeScale: 1})
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	out, err := Run(context.Background(), plan, RunOptions{LedgerPath: filepath.Join(dir, "ledger.jsonl"), Dir: filepath.Join(dir, "out"), Tool: "test", Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if out.Report == nil {
		t.Fatalf("no report read back; log:\n%s", log.String())
	}
	p50 := map[string]time.Duration{}
	for _, l := range out.Report.Links {
		if l.Proxy != "store" || l.Link != "catalog->store" || l.Failed() {
			t.Errorf("probe %+v", l)
		}
	}
	for _, ph := range out.Report.Phases {
		var lat []time.Duration
		for _, l := range out.Report.Links {
			if !l.At.Before(ph.Start) && l.At.Before(ph.End) {
				lat = append(lat, l.Latency)
			}
		}
		if len(lat) < 4 {
			t.Fatalf("phase %s: %d probes (%v), want one every 250 ms", ph.Name, len(lat), lat)
		}
		slices.Sort(lat)
		p50[ph.Name] = lat[len(lat)/2]
	}
	if p50["slow"] < 400*time.Millisecond || p50["baseline"] >= 200*time.Millisecond || p50["recovery"] >= 200*time.Millisecond {
		t.Errorf("link medians %v: want 400 ms and more under the fault, under 200 ms without it", p50)
	}
	var summary bytes.Buffer
	if err := WriteSummary(&summary, out); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(filepath.Join(dir, "out", "report.txt"))
	if err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(filepath.Join(dir, "out", "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]string{"summary": summary.String(), "report.txt": string(text)} {
		for _, want := range []string{"catalog->store (proxy store)  slow", "responses by HTTP status", "baseline  product"} {
			if !strings.Contains(got, want) {
				t.Errorf("%s lacks %q:\n%s", name, want, got)
			}
		}
	}
	if !strings.Contains(string(html), "<td>catalog-&gt;store (proxy store)</td>") {
		t.Errorf("report.html lacks the link table")
	}
}
