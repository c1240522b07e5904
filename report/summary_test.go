package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report/internal/fixture"
)

func TestWriteSummary(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1700000000, 0)
	total := loadgen.NewStats(t0, t0.Add(10*time.Second))
	res := &loadgen.Result{Model: loadgen.Open, Start: t0, End: t0.Add(10 * time.Second), Planned: 10 * time.Second,
		Total: total, TargetRate: 100, Sent: 0, Generator: loadgen.GeneratorHealth{CPU: time.Second, Cores: 2, Utilization: 0.05}}
	var buf bytes.Buffer
	if err := WriteSummary(&buf, Summarize(res, nil)); err != nil {
		t.Fatal(err)
	}
	fixture.Golden(t, "summary-empty.txt", buf.Bytes())
}

// TestSummaryAccountsForEveryFailure: 600 of 3000 requests failed with a
// 400 (a wrong body): the summary must say so where it says "600 failed",
// not "errors none", and show the body that says why.
func TestSummaryAccountsForEveryFailure(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1700000000, 0)
	ivs := fixture.Stats(5, t0, 1, func(int) fixture.Spec {
		return fixture.Spec{Names: []string{"create", "list"}, PerName: 1500, MedianNs: 1e6, Sigma: 0.2, FailEach: 5, Timeouts: []string{"list"}}
	})
	total := ivs[0]
	total.AddFailure(loadgen.FailureSample{Name: "create", Status: 400, Body: `{"error":"missing field \"sku\""}`})
	res := &loadgen.Result{Model: loadgen.Open, Start: t0, End: t0.Add(time.Second), Planned: time.Second,
		Total: total, TargetRate: 3000, Sent: 3000}
	var buf bytes.Buffer
	if err := WriteSummary(&buf, Summarize(res, nil)); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"600 failed (20%)",
		"failed        600 = 300 with an error status (503: 300) + 300 with no response (timeout: 300)",
		"  503: 300\n", "  timeout: 300\n",
		`create  503      {"error":"store unavailable","request":4}\n`,
		"list    timeout  read tcp",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "errors        none") {
		t.Errorf("summary says no errors beside 600 failed:\n%s", out)
	}
}
