package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/internal/distrib"
	"github.com/faultline-dev/faultline/internal/kube"
	"github.com/faultline-dev/faultline/internal/testenv"
	"github.com/faultline-dev/faultline/targets"
)

// kubeGenTarget deploys store alone in ns (5 ms of service time) and
// returns a product's URL at its ClusterIP, which pods reach.
func kubeGenTarget(t *testing.T, image, ns string) string {
	t.Helper()
	cfg := targets.Defaults()
	cfg.Store.ServiceTime = targets.ServiceTimeConfig{Enabled: true, Distribution: targets.DistFixed, Fixed: 5 * time.Millisecond}
	ctx := context.Background()
	shop, err := targets.StartKube(ctx, cfg, targets.KubeOptions{
		Kube: targets.KubeConfig{Kubeconfig: testenv.KubeconfigPath(), Namespace: ns}, Only: []string{targets.Store}, Image: image,
		Labels: map[string]string{"faultline.test": "1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shop.Close(ctx) })
	return shop.URL(targets.Store) + "/kv/product:" + targets.ProductID(1)
}

func kubeGenImage(t *testing.T) string {
	t.Helper()
	testenv.Docker(t)
	return testenv.KubeFaultlineImage(t, func(ctx context.Context, bin, tag string) error {
		_, err := targets.BuildImageWithEngine(ctx, targets.ImageOptions{Binary: bin, Tag: tag})
		return err
	})
}

var genSelector = metav1.ListOptions{LabelSelector: chaos.LabelPartOf + "=" + chaos.PartOfGenerators}

// generatorObjects lists the generator objects in ns: pods, Jobs,
// Services and Secrets.
func generatorObjects(t *testing.T, c *kube.Client, ns string) []string {
	t.Helper()
	return testenv.KubeLabelled(t, c, ns, chaos.LabelPartOf+"="+chaos.PartOfGenerators)
}

// workerStart waits (up to two minutes) for the generator pod of
// completion index i to log its run's start, and returns that start.
func workerStart(t *testing.T, c *kube.Client, ns string, i string) (string, time.Time) {
	t.Helper()
	re := regexp.MustCompile(`segment \d+/\d+, starts (\S+)`)
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		pods, err := c.CoreV1().Pods(ns).List(context.Background(), genSelector)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			if p.Annotations["batch.kubernetes.io/job-completion-index"] != i || p.Status.Phase != corev1.PodRunning {
				continue
			}
			raw, err := c.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{}).DoRaw(context.Background())
			if m := re.FindSubmatch(raw); err == nil && m != nil {
				at, err := time.Parse(time.RFC3339Nano, string(m[1]))
				if err != nil {
					t.Fatal(err)
				}
				return p.Name, at
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no generator pod of index %s started a run within two minutes", i)
	return "", time.Time{}
}

// TestLoadKubeGeneratorPodDeleted: 'load --generators 3 --on kubernetes'
// with the worker pod of segment 1/3 deleted 3 s into an 8 s run: the run
// ends with the others' merged verdict, names the lost segment and from
// when, counts its unreported share as not sent, exits 5, and leaves no
// pod, Job, Service or Secret. About 40 s (a store deployment, three
// worker pods).
func TestLoadKubeGeneratorPodDeleted(t *testing.T) {
	t.Parallel()
	c := testenv.Kube(t)
	image := kubeGenImage(t)
	ns := testenv.KubeNamespace(t, c)
	target := kubeGenTarget(t, image, ns)
	bin := testenv.BuildFaultline(t)
	out := filepath.Join(t.TempDir(), "results.json")
	cmd := exec.Command(bin, "load", target, "--rate", "60/s", "--duration", "8s", "--generators", "3", "--on", "kubernetes",
		"--kubeconfig", testenv.KubeconfigPath(), "--namespace", ns, "--image", image,
		"--ledger", filepath.Join(t.TempDir(), "ledger.jsonl"), "--out", out)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	victim, start := workerStart(t, c, ns, "1")
	time.Sleep(time.Until(start.Add(3 * time.Second)))
	zero := int64(0)
	if err := c.CoreV1().Pods(ns).Delete(context.Background(), victim, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	code := exitCodeOf(t, cmd.Wait())
	if code != 5 || !strings.Contains(stdout.String(), "DEGRADED:     segment 1/3 lost") || !strings.Contains(stderr.String(), "degraded run: lost "+victim) {
		t.Fatalf("exit %d, want 5 naming segment 1/3\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Summary struct {
			Degraded   bool
			Generators []distrib.WorkerReport
		} `json:"summary"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	gens := file.Summary.Generators
	if !file.Summary.Degraded || len(gens) != 3 {
		t.Fatalf("summary: degraded %v, %d generators", file.Summary.Degraded, len(gens))
	}
	lost := gens[1]
	if lost.Name != victim || lost.State == distrib.StateOK || lost.NotSent <= 0 || lost.Since.Before(start.Add(2*time.Second)) {
		t.Errorf("lost worker: %+v; want %s, lost from about %s, its unreported share counted as not sent", lost, victim, start.Add(3*time.Second))
	}
	for _, i := range []int{0, 2} {
		if gens[i].State != distrib.StateOK || gens[i].Requests != 160 {
			t.Errorf("worker %d: %+v; want ok with its 160 requests", i, gens[i])
		}
	}
	if left := generatorObjects(t, c, ns); len(left) > 0 {
		t.Errorf("left after the run: %v", left)
	}
}

// TestLoadKubeGeneratorsSIGKILL: a coordinator killed with SIGKILL while
// its worker pods run leaves them behind, recorded in the ledger;
// 'faultline chaos cleanup' deletes the Job, its pods, the Service and the
// Secret.
func TestLoadKubeGeneratorsSIGKILL(t *testing.T) {
	t.Parallel()
	c := testenv.Kube(t)
	image := kubeGenImage(t)
	ns := testenv.KubeNamespace(t, c)
	bin := testenv.BuildFaultline(t)
	ledger := filepath.Join(t.TempDir(), "ledger.jsonl")
	// The target is never reached: the coordinator dies before the start.
	cmd := exec.Command(bin, "load", "http://10.244.0.1:9/", "--rate", "10/s", "--duration", "60s", "--generators", "2", "--on", "kubernetes",
		"--kubeconfig", testenv.KubeconfigPath(), "--namespace", ns, "--image", image, "--ledger", ledger)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for len(generatorObjects(t, c, ns)) < 4 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if left := generatorObjects(t, c, ns); len(left) < 4 {
		t.Fatalf("before cleanup: %v; want the Job, its Service, Secret and pods", left)
	}
	cleanup := exec.Command(bin, "chaos", "cleanup", "--ledger", ledger)
	if cout, err := cleanup.CombinedOutput(); err != nil {
		t.Fatalf("cleanup: %v\n%s", err, cout)
	}
	if left := generatorObjects(t, c, ns); len(left) > 0 {
		t.Errorf("left after cleanup: %v", left)
	}
}
