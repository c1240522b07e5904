package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/internal/kube"
	"github.com/faultline-dev/faultline/internal/testenv"
	"github.com/faultline-dev/faultline/targets"
)

// kubeFaultlineImage is faultline's image in the test cluster, for the
// kinds that run it there (the pod stressors).
func kubeFaultlineImage(t *testing.T) string {
	t.Helper()
	testenv.Docker(t)
	return testenv.KubeFaultlineImage(t, func(ctx context.Context, bin, tag string) error {
		_, err := targets.BuildImageWithEngine(ctx, targets.ImageOptions{Binary: bin, Tag: tag})
		return err
	})
}

// stressFor is the --for of the SIGKILL rounds: the stressor must end by
// itself that long after it started.
const stressFor = 2 * time.Second

// TestPodStressSIGKILLThenCleanup SIGKILLs `faultline chaos inject
// pod_cpu_stress|pod_memory_stress --for 2s` at a random instant of its
// first 2s (it holds the fault 2s once injected, so it never reverts it
// itself), ten times per kind, the kinds in parallel, each in its own
// namespace. An ephemeral container cannot be removed: the test checks that
// every stressor ended by itself at most about --for after it started (the
// --for is its own limit, not the default hour), with status 0, and that
// `faultline chaos cleanup` then says so. About 60s: ten rounds of a kill
// within 2s and the wait for the stressor's end.
func TestPodStressSIGKILLThenCleanup(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ kind, args string }{
		{"pod_cpu_stress", "--load 20"},
		{"pod_memory_stress", "--size 8MiB"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			image := kubeFaultlineImage(t)
			c, ns, before := kubeNamespaceWithWeb(t)
			bin := testenv.BuildFaultline(t)
			ended := 0
			seen := map[string]bool{} // ephemeral containers seen ended
			for round := range sigkillRounds {
				ledger := filepath.Join(t.TempDir(), "ledger.jsonl")
				args := append([]string{"chaos", "inject", tc.kind, "--kubeconfig", testenv.KubeconfigPath(), "--ledger", ledger,
					"--namespace", ns, "--label", "app=web", "--seed", fmt.Sprint(round), "--image", image, "--for", stressFor.String()},
					strings.Fields(tc.args)...)
				cmd := exec.Command(bin, args...)
				out := &syncBuffer{}
				cmd.Stdout, cmd.Stderr = out, out
				delay := time.Duration(rand.Int64N(int64(stressFor)))
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(delay) // the random instant is the point of the test
				cmd.Process.Kill()
				cmd.Wait()
				ran := waitStressorsEnded(t, c, ns, seen, 30*time.Second)
				if _, err := os.Stat(ledger); err != nil {
					continue // killed before the ledger was written: nothing done
				}
				cleanup := exec.Command(bin, "chaos", "cleanup", "--ledger", ledger)
				cleanup.Env = append(os.Environ(), "KUBECONFIG=")
				cout, err := cleanup.CombinedOutput()
				if code := exitCodeOf(t, err); code != 0 {
					t.Fatalf("round %d (killed after %s): cleanup exit %d\n%s\ninject said:\n%s", round, delay, code, cout, out.String())
				}
				if ran > 0 {
					ended++
					if !strings.Contains(string(cout), "the stressor had ended") {
						t.Errorf("round %d: a stressor ended by itself, but cleanup says:\n%s", round, cout)
					}
				}
			}
			testenv.WaitKubePodState(t, c, ns, before, 30*time.Second)
			t.Logf("%s: %d rounds, %d whose stressor ran and ended by itself", tc.kind, sigkillRounds, ended)
			if ended == 0 {
				t.Errorf("no round left a running stressor: the kill instants missed the fault")
			}
		})
	}
}

// waitStressorsEnded waits until no ephemeral container of the pods in ns
// runs or waits to, checks that each one ran at most about stressFor and
// ended with status 0, and returns how many ended since the last call
// (those not in seen, which it adds them to).
func waitStressorsEnded(t *testing.T, c *kube.Client, ns string, seen map[string]bool, within time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		pods, err := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			t.Fatal(err)
		}
		running, fresh := 0, 0
		for _, p := range pods.Items {
			for _, st := range p.Status.EphemeralContainerStatuses {
				running += stressorState(t, p, st, seen, &fresh)
			}
			running += len(p.Spec.EphemeralContainers) - len(p.Status.EphemeralContainerStatuses)
		}
		if running == 0 {
			return fresh
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d stressor(s) still run or wait %v after the kill (--for %v)", running, within, stressFor)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stressorState returns 1 if the stressor runs or waits to; an ended one
// is checked and, the first time it is seen, counted in fresh.
func stressorState(t *testing.T, p corev1.Pod, st corev1.ContainerStatus, seen map[string]bool, fresh *int) int {
	t.Helper()
	end := st.State.Terminated
	if end == nil {
		return 1
	}
	key := p.Namespace + "/" + p.Name + "/" + st.Name
	if seen[key] {
		return 0
	}
	seen[key] = true
	*fresh++
	ran := end.FinishedAt.Sub(end.StartedAt.Time)
	// The API's times are whole seconds: allow one either side.
	if ran > stressFor+time.Second || end.ExitCode != 0 {
		t.Errorf("stressor %s ran %v and ended with status %d: want it to stop by itself after --for %v", key, ran, end.ExitCode, stressFor)
	}
	return 0
}
