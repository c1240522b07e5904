package experiments

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/internal/exitcode"
)

// abortHTTPPlan answers every order POST with 503 on the gateway -> orders
// link; the gateway does not retry a POST without an Idempotency-Key, so
// the error rate climbs past the abort condition.
const abortHTTPPlan = `name: abort-http
targets:
  shop: true
proxies:
  - name: orders
    link: gateway->orders
load:
  rate: 50/s
  requests:
    - name: order
      method: POST
      url: ${targets.gateway}/api/orders
      headers:
        Content-Type: application/json
      body: '{"items":[{"product_id":"p001","quantity":1}]}'
phases:
  - name: baseline
    duration: 4s
  - name: aborts
    duration: 10s
    faults:
      - kind: http_abort
        proxy: orders
        method: POST
        path: /orders
  - name: after
    duration: 4s
abort:
  - error_rate < 20% over 2s
`

// TestAbortRevertsHTTPFault: an abort condition that trips while an HTTP
// fault is in effect ends the run with exit code 4, and the fault is
// reverted (its journal record notes the requests it touched; the ledger
// lists nothing).
func TestAbortRevertsHTTPFault(t *testing.T) {
	t.Parallel()
	plan := parsePlan(t, abortHTTPPlan)
	ledger := filepath.Join(t.TempDir(), "ledger.jsonl")
	out, err := Run(context.Background(), plan, RunOptions{LedgerPath: ledger, Dir: t.TempDir(), Tool: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if out.Code != exitcode.Aborted {
		t.Fatalf("exit %d (%s), want 4", out.Code, out.Message)
	}
	reverted := false
	for _, f := range out.Faults {
		if f.Event == "reverted" && strings.Contains(f.Note, "touched") {
			reverted = true
			t.Logf("%s: %s", f.Label, f.Note)
		}
	}
	if !reverted {
		t.Errorf("no reverted http_abort with its counts: %+v", out.Faults)
	}
	l, _ := chaos.OpenLedger(ledger)
	if active, _ := l.Active(); len(active) != 0 {
		t.Errorf("%d active in the ledger after the abort", len(active))
	}
}
