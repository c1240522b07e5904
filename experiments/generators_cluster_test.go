package experiments

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/internal/distrib"
	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/internal/kube"
	"github.com/faultline-dev/faultline/internal/testenv"
	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report"
	"github.com/faultline-dev/faultline/targets"
)

// stallStore deploys store alone in ns as the deterministic stall
// target: 20 ms of service time, and every request arriving from 500 ms
// to 1 s after its first one held until that second ends; a pool wide
// enough never to refuse. It returns store's URL for a product (its
// ClusterIP, which the pods and this host both reach).
func stallStore(t *testing.T, image, ns string) (string, func()) {
	t.Helper()
	cfg := targets.Defaults()
	cfg.Store.ServiceTime = targets.ServiceTimeConfig{Enabled: true, Distribution: targets.DistFixed, Fixed: 20 * time.Millisecond,
		StallAfter: 500 * time.Millisecond, StallFor: 500 * time.Millisecond}
	cfg.Store.Pool.Size, cfg.Store.Pool.MaxQueue = 2000, 2000
	ctx := context.Background()
	shop, err := targets.StartKube(ctx, cfg, targets.KubeOptions{
		Kube: targets.KubeConfig{Kubeconfig: testenv.KubeconfigPath(), Namespace: ns}, Only: []string{targets.Store}, Image: image,
		Labels: map[string]string{"faultline.test": "1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return shop.URL(targets.Store) + "/kv/product:" + targets.ProductID(1), func() {
		if err := shop.Close(ctx); err != nil {
			t.Errorf("remove the store: %v", err)
		}
	}
}

// generatorsLeft lists the generator objects left in ns.
func generatorsLeft(t *testing.T, c *kube.Client, ns string) []string {
	t.Helper()
	return testenv.KubeLabelled(t, c, ns, chaos.LabelPartOf+"="+chaos.PartOfGenerators)
}

func stallSpec(t *testing.T, u string) loadgen.Spec {
	t.Helper()
	tg, err := loadgen.NewTarget("GET", u)
	if err != nil {
		t.Fatal(err)
	}
	return loadgen.Spec{Shape: loadgen.Shape{Model: loadgen.Open, Rate: 200, Duration: 2 * time.Second},
		Targets: []loadgen.Target{tg}, Tool: "faultline test", Connections: 50, Grace: 5 * time.Second}
}

// TestKubeGenerators: three worker pods of an Indexed Job, this process
// their coordinator outside the cluster, against the stall target in the
// cluster: the merged count is the schedule's exactly; the merged p50 and
// p99 are those of one process running the same schedule (a fresh store
// for each run, so each meets the stall at the same time of its schedule);
// rate<100 holds on each worker's share (about 67/s) and fails on the
// merge (200/s), so the load exits 1; and the Job, its pods, Service and
// Secret are gone afterwards. About 60 s: two store deployments and one
// Job of three pods.
func TestKubeGenerators(t *testing.T) {
	t.Parallel()
	c := testenv.Kube(t)
	image := kubeTargetsImage(t)
	ns := testenv.KubeNamespace(t, c)
	u, closeStore := stallStore(t, image, ns)
	opts, err := stallSpec(t, u).Options()
	if err != nil {
		t.Fatal(err)
	}
	single, err := loadgen.Run(context.Background(), opts)
	closeStore()
	if err != nil {
		t.Fatal(err)
	}
	u, closeStore = stallStore(t, image, ns)
	defer closeStore()
	start := KubeGenerators(distrib.Config{}, map[string]string{"faultline.test": "1"}, 0)
	ledger := filepath.Join(t.TempDir(), "ledger.jsonl")
	cfg, stop, err := start(context.Background(), GeneratorRequest{Count: 3, RunID: "t" + ns[len(ns)-8:], Image: image, LedgerPath: ledger,
		Kube: targets.KubeConfig{Kubeconfig: testenv.KubeconfigPath(), Namespace: ns}, Length: 2500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	checkJobDeadline(t, c, ns, 603)
	thr, err := loadgen.ParseThreshold("rate<100")
	if err != nil {
		t.Fatal(err)
	}
	resultsPath := filepath.Join(t.TempDir(), "results.json")
	var summary bytes.Buffer
	code, err := RunLoad(context.Background(), LoadRun{Spec: stallSpec(t, u), Thresholds: []*loadgen.Threshold{thr},
		ResultsPath: resultsPath, Summary: &summary, Generators: cfg})
	t.Logf("summary:\n%s", summary.String())
	if serr := stop(); serr != nil {
		t.Errorf("stop the generators: %v", serr)
	}
	if err != nil || code != exitcode.Failed {
		t.Fatalf("exit %d (%v), want 1: rate<100 fails on the merge", code, err)
	}
	checkKubeMerge(t, resultsPath, single)
	if left := generatorsLeft(t, c, ns); len(left) > 0 {
		t.Errorf("left after the run: %v", left)
	}
}

// checkJobDeadline checks the generators' Job in ns ends its pods after
// want seconds (the load's length plus GeneratorDeadlineMargin, rounded up).
func checkJobDeadline(t *testing.T, c *kube.Client, ns string, want int64) {
	t.Helper()
	jobs, err := c.BatchV1().Jobs(ns).List(context.Background(), metav1.ListOptions{LabelSelector: chaos.LabelPartOf + "=" + chaos.PartOfGenerators})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs.Items) != 1 {
		t.Fatalf("%d generator jobs, want 1", len(jobs.Items))
	}
	if d := jobs.Items[0].Spec.ActiveDeadlineSeconds; d == nil || *d != want {
		t.Errorf("the Job's activeDeadlineSeconds is %v, want %d", d, want)
	}
}

// checkKubeMerge compares the merged run of the results file with the one
// process's: the same count, and p50 and p99 within the histograms'
// precision plus the machine's timing noise and the runs' latest send;
// each worker's share held the threshold that the merge failed.
func checkKubeMerge(t *testing.T, resultsPath string, single *loadgen.Result) {
	t.Helper()
	run, err := report.OpenRun(resultsPath)
	if err != nil {
		t.Fatal(err)
	}
	a, b := single.Total.Latency(""), run.Total().Latency("")
	if a.TotalCount() != 400 || b.TotalCount() != 400 {
		t.Fatalf("counts %d (one process) and %d (merged), want the schedule's 400", a.TotalCount(), b.TotalCount())
	}
	// A request sent late by d can arrive in the stall instead of before
	// it and wait up to d longer for its end: each run's figures may move
	// by its latest send (in one CI run on a busy node the three pods'
	// p99 read 530.6 ms against one process's 502.8 ms).
	lag := time.Duration(max(single.Total.SendLag.Max(), run.Total().SendLag.Max()))
	for _, q := range []float64{50, 99} {
		x, y := time.Duration(a.ValueAtQuantile(q)), time.Duration(b.ValueAtQuantile(q))
		tol := max(x/20, 5*time.Millisecond) + lag
		t.Logf("p%g: one process %s, three pods %s (latest send %s late)", q, x, y, lag)
		if d := x - y; d > tol || d < -tol {
			t.Errorf("p%g: one process %s, three pods %s: differ by more than %s", q, x, y, tol)
		}
	}
	raw, err := os.ReadFile(resultsPath)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Summary struct {
			Generators []distrib.WorkerReport `json:"generators"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	for _, w := range file.Summary.Generators {
		if w.State != distrib.StateOK || w.Requests == 0 || float64(w.Requests)/2 >= 100 {
			t.Errorf("worker %s (%s): %+v: want ok, its share under 100/s", w.Name, w.Segment, w)
		}
	}
	if len(file.Summary.Generators) != 3 {
		t.Errorf("%d workers in the summary, want 3", len(file.Summary.Generators))
	}
}

const kubeGeneratorsExperiment = `name: kube generators
targets:
  only: [store]
  kubernetes:
    namespace: set-by-the-test
    shop: true
load:
  rate: 30/s
  generators: 2
  requests:
    - url: ${targets.store}/kv/product:p001
phases:
  - name: baseline
    duration: 3s
hypothesis:
  baseline: [error_rate < 1%]
`

// TestKubeGeneratorsRun: faultline run's path to the worker pods: the
// experiment's load.generators on the run's cluster, namespace and image,
// against store deployed for the run: the hypothesis holds on the two
// pods' merged intervals, the schedule's 90 requests are counted, and
// nothing of the workers is left. About 30 s.
func TestKubeGeneratorsRun(t *testing.T) {
	t.Parallel()
	c := testenv.Kube(t)
	image := kubeTargetsImage(t)
	ns := testenv.KubeNamespace(t, c)
	plan, err := Parse([]byte(kubeGeneratorsExperiment), filepath.Join(t.TempDir(), "gen.yaml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	res, err := Run(context.Background(), plan, RunOptions{
		Log: &log, LedgerPath: filepath.Join(t.TempDir(), "ledger.jsonl"), Dir: t.TempDir(), Tool: "test",
		Image: image, Kube: targets.KubeConfig{Kubeconfig: testenv.KubeconfigPath(), Namespace: ns},
		StartGenerators: KubeGenerators(distrib.Config{}, map[string]string{"faultline.test": "1"}, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Code != exitcode.OK || res.Generators == nil || len(res.Generators.Workers) != 2 || res.Total.Scheduled != 90 {
		t.Fatalf("exit %d (%s), generators %+v, total %+v; want 0, two pods, 90 requests\n%s", res.Code, res.Message, res.Generators, res.Total, log.String())
	}
	for _, w := range res.Generators.Workers {
		if w.State != distrib.StateOK || !strings.HasPrefix(w.Name, "faultline-gen-") {
			t.Errorf("worker %+v", w)
		}
	}
	if left := generatorsLeft(t, c, ns); len(left) > 0 {
		t.Errorf("left after the run: %v", left)
	}
}
