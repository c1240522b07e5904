package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/internal/kube"
	"github.com/faultline-dev/faultline/internal/testenv"
)

// podKindCase is one pod fault kind as the command line injects it on a
// namespace holding deployment/web (2 pause pods).
type podKindCase struct {
	kind string
	args func(ns string, seed int) []string
	// injected says, from the command's output, that the fault is in.
	injected string
}

var podKindCases = []podKindCase{
	{"pod_kill", func(ns string, seed int) []string {
		return []string{"--namespace", ns, "--label", "app=web", "--seed", fmt.Sprint(seed)}
	}, "injected pod_kill"},
	{"scale", func(ns string, _ int) []string {
		return []string{"--namespace", ns, "--workload", "deployment/web", "--replicas", "0"}
	}, "injected scale"},
	// The pause image is one the node does not have and may not pull: the
	// container cannot start, which is unavailable too, and needs no
	// second image in the cluster.
	{"pod_failure", func(ns string, seed int) []string {
		return []string{"--namespace", ns, "--label", "app=web", "--seed", fmt.Sprint(seed), "--pause-image", "faultline.local/absent:0"}
	}, "injected pod_failure"},
}

// kubeNamespaceWithWeb makes a test namespace holding deployment/web of
// two pause pods, and returns the client, the namespace and its state.
func kubeNamespaceWithWeb(t *testing.T) (*kube.Client, string, string) {
	t.Helper()
	c := testenv.Kube(t)
	ns := testenv.KubeNamespace(t, c)
	testenv.KubeDeployment(t, c, ns, "web", 2, testenv.KubePodTemplate("web", testenv.KubePauseImage))
	return c, ns, testenv.KubePodState(t, c, ns)
}

func podFaultCommand(t *testing.T, tc podKindCase, ns, ledger string, seed int, extra ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	args := append([]string{"chaos", "inject", tc.kind, "--kubeconfig", testenv.KubeconfigPath(), "--ledger", ledger}, tc.args(ns, seed)...)
	cmd := exec.Command(testenv.BuildFaultline(t), append(args, extra...)...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	return cmd, out
}

// TestPodFaultsRevertOnEveryEnd injects each pod kind from the command line
// and ends it each way a command ends without SIGKILL: its time is up, the
// first SIGINT (Ctrl-C), SIGTERM. The namespace is then as it was, and the
// ledger has nothing active.
func TestPodFaultsRevertOnEveryEnd(t *testing.T) {
	t.Parallel()
	for _, tc := range podKindCases {
		for _, end := range []struct {
			name   string
			signal syscall.Signal // 0: the time is up
			code   int
		}{{"time up", 0, 0}, {"SIGINT", syscall.SIGINT, 130}, {"SIGTERM", syscall.SIGTERM, 130}} {
			t.Run(tc.kind+"/"+end.name, func(t *testing.T) {
				t.Parallel()
				c, ns, before := kubeNamespaceWithWeb(t)
				ledger := filepath.Join(t.TempDir(), "ledger.jsonl")
				hold := "60s"
				if end.signal == 0 {
					hold = "1s"
				}
				cmd, out := podFaultCommand(t, tc, ns, ledger, 1, "--for", hold)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
				if end.signal != 0 {
					waitOutput(t, out, tc.injected, 30*time.Second)
					cmd.Process.Signal(end.signal)
				}
				if code := exitCodeOf(t, cmd.Wait()); code != end.code {
					t.Fatalf("exit %d, want %d\n%s", code, end.code, out.String())
				}
				if !strings.Contains(out.String(), "reverted "+tc.kind) {
					t.Fatalf("no revert reported:\n%s", out.String())
				}
				testenv.WaitKubePodState(t, c, ns, before, 10*time.Second)
				l, _ := chaos.OpenLedger(ledger)
				if active, _ := l.Active(); len(active) != 0 {
					t.Fatalf("%d faults active in the ledger", len(active))
				}
			})
		}
	}
}

func waitOutput(t *testing.T, out *syncBuffer, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q after %s:\n%s", want, within, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// freshPods replaces the pods labelled app=name by new ones and waits for
// the namespace to be in state want again. Every pod_failure restarts a
// container, and the kubelet's restart back-off for that container doubles
// with each (10s, 20s, 40s...): a pod failed round after round would
// measure the kubelet, not faultline.
func freshPods(t *testing.T, c *kube.Client, ns, name, want string) {
	t.Helper()
	zero := int64(0)
	err := c.CoreV1().Pods(ns).DeleteCollection(context.Background(), metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		t.Fatal(err)
	}
	testenv.WaitKubePodState(t, c, ns, want, 60*time.Second)
}

// sigkillRounds is how many times TestPodFaultsSIGKILLThenCleanup kills
// faultline during each kind.
const sigkillRounds = 10

// TestPodFaultsSIGKILLThenCleanup SIGKILLs `faultline chaos inject KIND` at
// a random instant (from its start to 1.5s later: before it reached the
// cluster, between the ledger record and the change, or during the hold),
// then runs `faultline chaos cleanup` without --kubeconfig (the ledger
// says which cluster) and checks the namespace is as it was: replica
// counts, images, every pod ready. Ten rounds per kind, the kinds in
// parallel, each in its own namespace.
func TestPodFaultsSIGKILLThenCleanup(t *testing.T) {
	t.Parallel()
	for _, tc := range podKindCases {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			c, ns, before := kubeNamespaceWithWeb(t)
			bin := testenv.BuildFaultline(t)
			start := time.Now()
			cleaned := 0
			for round := range sigkillRounds {
				ledger := filepath.Join(t.TempDir(), "ledger.jsonl")
				cmd, out := podFaultCommand(t, tc, ns, ledger, round, "--for", "60s")
				delay := time.Duration(rand.Int64N(int64(1500 * time.Millisecond)))
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(delay)
				cmd.Process.Kill()
				cmd.Wait()
				if _, err := os.Stat(ledger); err == nil {
					cleanup := exec.Command(bin, "chaos", "cleanup", "--ledger", ledger)
					cleanup.Env = append(os.Environ(), "KUBECONFIG=")
					cout, err := cleanup.CombinedOutput()
					if code := exitCodeOf(t, err); code != 0 {
						t.Fatalf("round %d (killed after %s): cleanup exit %d\n%s\ninject said:\n%s", round, delay, code, cout, out.String())
					}
					if strings.Contains(string(cout), "reverted "+tc.kind) {
						cleaned++
					}
				}
				testenv.WaitKubePodState(t, c, ns, before, 30*time.Second)
				if tc.kind == "pod_failure" {
					freshPods(t, c, ns, "web", before)
				}
			}
			t.Logf("%s: %d rounds, %d left a fault that cleanup reverted, %s", tc.kind, sigkillRounds, cleaned, time.Since(start).Round(100*time.Millisecond))
			if cleaned == 0 {
				t.Errorf("no round left a fault for cleanup: the kill instants missed the fault")
			}
		})
	}
}

// abortExperiment is an experiment on the in-process shop whose fault phase
// holds a pod fault and 300ms on the gateway->catalog link: the latency
// breaks the abort condition, and the abort must revert the pod fault too.
const abortExperiment = `name: pod-fault-abort
targets:
  shop: true
proxies:
  - name: catalog
    link: gateway->catalog
load:
  rate: 50/s
  requests:
    - name: product
      url: ${targets.gateway}/api/products/p001
phases:
  - name: baseline
    duration: 2s
  - name: fault
    duration: 30s
    faults:
      - kind: latency
        proxy: catalog
        latency: 300ms
      - %s
abort:
  - p99 < 150ms over 1s
`

// TestPodFaultsRevertOnAbort runs an experiment per pod kind that is
// aborted during its fault phase: exit 4, the namespace as it was, nothing
// active in the ledger.
func TestPodFaultsRevertOnAbort(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ kind, fault string }{
		{"pod_kill", "{kind: pod_kill, namespace: %s, labels: {app: web}}"},
		{"scale", "{kind: scale, namespace: %s, workload: deployment/web, replicas: 0}"},
		{"pod_failure", "{kind: pod_failure, namespace: %s, labels: {app: web}, pause_image: faultline.local/absent:0}"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			c, ns, before := kubeNamespaceWithWeb(t)
			dir := t.TempDir()
			exp := filepath.Join(dir, "exp.yaml")
			if err := os.WriteFile(exp, []byte(fmt.Sprintf(abortExperiment, fmt.Sprintf(tc.fault, ns))), 0o644); err != nil {
				t.Fatal(err)
			}
			ledger := filepath.Join(dir, "ledger.jsonl")
			cmd := exec.Command(testenv.BuildFaultline(t), "run", exp, "--out", filepath.Join(dir, "out"), "--ledger", ledger)
			cmd.Env = append(os.Environ(), "KUBECONFIG="+testenv.KubeconfigPath())
			out, err := cmd.CombinedOutput()
			if code := exitCodeOf(t, err); code != 4 {
				t.Fatalf("exit %d, want 4 (aborted)\n%s", code, out)
			}
			if !strings.Contains(string(out), "reverted "+tc.kind) {
				t.Fatalf("the pod fault's revert is not reported:\n%s", out)
			}
			testenv.WaitKubePodState(t, c, ns, before, 10*time.Second)
			l, _ := chaos.OpenLedger(ledger)
			if active, _ := l.Active(); len(active) != 0 {
				t.Fatalf("%d faults active in the ledger", len(active))
			}
		})
	}
}
