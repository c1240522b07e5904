package experiments

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/faultline-dev/faultline/internal/distrib"
	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/internal/testenv"
)

// generatorsExperiment has a fault phase whose verdicts do not depend on
// the machine's noise: 150 ms of latency on the gateway -> catalog link
// puts every fault-phase request past 140 ms (held) and none under 100 ms
// (deviated), while the baseline's median is a few milliseconds.
const generatorsExperiment = `
name: generators-verdicts
targets:
  shop: true
proxies:
  - name: catalog
    link: gateway->catalog
load:
  rate: 40/s
  generators: %d
  requests:
    - url: ${targets.gateway}/api/products/p001
  thresholds: ["errors < 20"]
phases:
  - name: baseline
    duration: 3s
  - name: slow-catalog
    duration: 4s
    faults:
      - kind: latency
        proxy: catalog
        latency: 150ms
  - name: recovery
    duration: 2s
hypothesis:
  baseline:
    - p50 < 100ms
    - error_rate < 5%%
  slow-catalog:
    - p50 > 140ms
    - p50 < 100ms
abort:
  - error_rate < 50%% over 2s
report:
  formats: [text]
`

// TestRunGeneratorsSameVerdicts: the experiment with generators: 3 (three
// worker processes, the coordinator in the runner) gives the same verdict
// of every check, and the same exit code, as the load in this process,
// and its journal counts the whole schedule: 360 requests.
func TestRunGeneratorsSameVerdicts(t *testing.T) {
	bin := testenv.BuildFaultline(t)
	verdicts := map[int][]string{}
	for _, n := range []int{0, 3} {
		plan, err := Parse(fmt.Appendf(nil, generatorsExperiment, n), "generators.yaml", Options{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := Run(context.Background(), plan, RunOptions{
			Dir: t.TempDir(), LedgerPath: filepath.Join(t.TempDir(), "ledger.jsonl"), Tool: "faultline test",
			StartGenerators: LocalGenerators(bin, distrib.Config{}, nil),
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Code != exitcode.Failed {
			t.Fatalf("generators %d: exit %d (%s), want 1 (one hypothesis deviates)", n, res.Code, res.Message)
		}
		if got := res.Total.Scheduled; got != 360 {
			t.Errorf("generators %d: %d requests scheduled, want 360", n, got)
		}
		if (res.Generators != nil) != (n > 0) || (n > 0 && len(res.Generators.Workers) != n) {
			t.Fatalf("generators %d: outcome %+v", n, res.Generators)
		}
		for _, c := range res.Checks {
			verdicts[n] = append(verdicts[n], c.Kind+" "+c.Phase+" "+c.Expression+" "+c.Name+": "+c.Verdict)
		}
	}
	if !slices.Equal(verdicts[0], verdicts[3]) || len(verdicts[0]) < 5 {
		t.Fatalf("verdicts differ:\none process: %q\n3 generators: %q", verdicts[0], verdicts[3])
	}
	t.Logf("verdicts: %q", verdicts[3])
}
