package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/internal/testenv"
)

// shopRunExperiment deploys the shop's store on Kubernetes for a run long
// enough to be killed in.
const shopRunExperiment = `name: kube-shop-sigkill
targets:
  only: [store]
  kubernetes:
    namespace: %s
    shop: true
    image: %s
load:
  rate: 10/s
  requests:
    - url: ${targets.store}/healthz
phases:
  - name: baseline
    duration: 2m
`

// TestRunKubeShopSIGKILLThenCleanup SIGKILLs `faultline run` once the shop
// it deployed on Kubernetes serves, and checks that `faultline chaos
// cleanup` (without --kubeconfig: the ledger names the cluster) removes
// that shop: the namespace is empty again. About 20s.
func TestRunKubeShopSIGKILLThenCleanup(t *testing.T) {
	t.Parallel()
	image := kubeFaultlineImage(t)
	c := testenv.Kube(t)
	ns := testenv.KubeNamespace(t, c)
	dir := t.TempDir()
	exp := filepath.Join(dir, "exp.yaml")
	if err := os.WriteFile(exp, []byte(fmt.Sprintf(shopRunExperiment, ns, image)), 0o644); err != nil {
		t.Fatal(err)
	}
	ledger := filepath.Join(dir, "ledger.jsonl")
	bin := testenv.BuildFaultline(t)
	run := exec.Command(bin, "run", exp, "--out", filepath.Join(dir, "out"), "--ledger", ledger, "--kubeconfig", testenv.KubeconfigPath())
	out := &syncBuffer{}
	run.Stdout, run.Stderr = out, out
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, out, "target store", 2*time.Minute)
	run.Process.Kill()
	run.Wait()
	if testenv.KubeState(t, c, ns) == "" {
		t.Fatalf("nothing in namespace %s after the kill: the shop was not deployed?\n%s", ns, out.String())
	}
	cleanup := exec.Command(bin, "chaos", "cleanup", "--ledger", ledger)
	cleanup.Env = append(os.Environ(), "KUBECONFIG=")
	cout, err := cleanup.CombinedOutput()
	if code := exitCodeOf(t, err); code != 0 || !strings.Contains(string(cout), "removed the shop of run") {
		t.Fatalf("cleanup exit %d, want 0 and the shop removed:\n%s", code, cout)
	}
	if left := testenv.KubeState(t, c, ns); left != "" {
		t.Errorf("left in %s after cleanup:\n%s", ns, left)
	}
	l, _ := chaos.OpenLedger(ledger)
	if active, _ := l.Active(); len(active) != 0 {
		t.Errorf("%d entries active in the ledger after cleanup", len(active))
	}
}
