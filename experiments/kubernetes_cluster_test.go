package experiments

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/internal/testenv"
	"github.com/faultline-dev/faultline/targets"
)

// kubeTargetsImage is the targets image of the test binary, in the test
// cluster.
func kubeTargetsImage(t *testing.T) string {
	t.Helper()
	testenv.Docker(t)
	return testenv.KubeFaultlineImage(t, func(ctx context.Context, bin, tag string) error {
		_, err := targets.BuildImageWithEngine(ctx, targets.ImageOptions{Binary: bin, Tag: tag})
		return err
	})
}

const kubeShopExperiment = `name: kube shop
targets:
  kubernetes:
    namespace: set-by-the-test
    shop: true
    replicas: {catalog: 2}
  store:
    service_time: {enabled: false}
load:
  rate: 20/s
  requests:
    - url: ${targets.gateway}/api/products/p001
steady_state:
  probes:
    - name: catalog ready
      kubernetes: {deployment: catalog, ready_replicas: 2, no_restarts: {app: catalog}}
    - name: gateway ready
      http: {url: '${targets.gateway}/readyz', status: 200}
    - name: catalog in flight
      prometheus: {url: '${targets.catalog}/metrics', metric: faultline_http_in_flight_requests}
      expect: value >= 0
    - name: store by its ClusterIP
      tcp: {address: '${targets.store.addr}'}
phases:
  - name: baseline
    duration: 3s
  - name: more
    duration: 3s
hypothesis:
  more: [error_rate < 1%]
`

// TestKubeShopRun runs an experiment on the shop deployed on Kubernetes for
// the run, with namespace redirected by RunOptions.Kube: the kubernetes,
// HTTP, Prometheus and TCP probes all hold against in-cluster addresses
// (ClusterIPs, reached from the host through kube-proxy), before and after;
// the shop is gone after the run.
func TestKubeShopRun(t *testing.T) {
	t.Parallel()
	c := testenv.Kube(t)
	image := kubeTargetsImage(t)
	ns := testenv.KubeNamespace(t, c)
	plan, err := Parse([]byte(kubeShopExperiment), filepath.Join(t.TempDir(), "kube.yaml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	var during string
	opts := RunOptions{
		Log: &log, LedgerPath: filepath.Join(t.TempDir(), "ledger.jsonl"), Dir: t.TempDir(), Tool: "test",
		Image: image, Kube: targets.KubeConfig{Kubeconfig: testenv.KubeconfigPath(), Namespace: ns},
	}
	opts.hooks.afterSetUp = func() { during = testenv.KubeState(t, c, ns) }
	res, err := Run(context.Background(), plan, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Code != exitcode.OK {
		t.Fatalf("exit %d (%s), want 0\n%s", res.Code, res.Message, log.String())
	}
	held := 0
	for _, ch := range res.Checks {
		if strings.HasPrefix(ch.Kind, "steady_state") && ch.Verdict == string(Held) {
			held++
		}
	}
	if held != 8 {
		t.Errorf("%d steady-state checks held, want 4 probes before and after:\n%s", held, log.String())
	}
	for _, want := range []string{"deployment/catalog replicas=2", "service/gateway selector=app=gateway,faultline.run="} {
		if !strings.Contains(during, want) {
			t.Errorf("state during the run lacks %q:\n%s", want, during)
		}
	}
	if after := testenv.KubeState(t, c, ns); after != "" {
		t.Errorf("left in %s after the run:\n%s", ns, after)
	}
}

// TestKubeShopRunErrors: a namespace that does not exist is one line,
// exit 5, before any load.
func TestKubeShopRunErrors(t *testing.T) {
	t.Parallel()
	testenv.Kube(t)
	plan, err := Parse([]byte(kubeShopExperiment), filepath.Join(t.TempDir(), "kube.yaml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	res, err := Run(context.Background(), plan, RunOptions{
		Log: &log, LedgerPath: filepath.Join(t.TempDir(), "ledger.jsonl"), Dir: t.TempDir(), Tool: "test",
		Kube: targets.KubeConfig{Kubeconfig: testenv.KubeconfigPath(), Namespace: "fl-test-no-such-namespace"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Code != exitcode.Runtime || !strings.Contains(res.Message, `namespace "fl-test-no-such-namespace" does not exist`) {
		t.Errorf("exit %d (%s), want 5 naming the namespace\n%s", res.Code, res.Message, log.String())
	}
}

// kubeExample points an example at a fresh namespace of the test cluster
// and the test's image, and returns the check to make after the run: once
// the faults were reverted, the namespace was as it was before the first
// (same Deployments and replica counts, same Service selectors, no other
// pod of faultline's), and after the run nothing is left.
func kubeExample(t *testing.T, opts *RunOptions) func(*testing.T) {
	c := testenv.Kube(t)
	opts.Image = kubeTargetsImage(t)
	ns := testenv.KubeNamespace(t, c)
	opts.Kube = targets.KubeConfig{Kubeconfig: testenv.KubeconfigPath(), Namespace: ns}
	var before, reverted string
	opts.hooks.afterSetUp = func() { before = testenv.KubeState(t, c, ns) }
	opts.hooks.afterRevert = func() { reverted = testenv.KubeState(t, c, ns) }
	return func(t *testing.T) {
		if before == "" || before != reverted {
			t.Errorf("namespace %s after the reverts:\n%s\nwant as before the faults:\n%s", ns, reverted, before)
		}
		if after := testenv.KubeState(t, c, ns); after != "" {
			t.Errorf("left in %s after the run:\n%s", ns, after)
		}
	}
}
