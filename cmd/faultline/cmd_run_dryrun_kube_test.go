package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/faultline-dev/faultline/internal/kube"
	"github.com/faultline-dev/faultline/internal/testenv"
)

// dryRunExperiment names a namespace that does not exist: the test's
// comes from --namespace, as ${kubernetes.namespace}.
const dryRunExperiment = `name: dry-run-kube
targets:
  kubernetes:
    namespace: fl-not-this-one
  external:
    web: http://127.0.0.1:1
load:
  rate: 10/s
  requests:
    - url: ${targets.web}/
phases:
  - name: baseline
    duration: 5s
  - name: fault
    duration: 5s
    faults:
      - {kind: pod_kill, namespace: "${kubernetes.namespace}", labels: {app: web}, mode: all}
      - {kind: pod_failure, namespace: "${kubernetes.namespace}", labels: {app: web}, mode: one, pause_image: faultline.local/absent:0}
      - {kind: service_latency, namespace: "${kubernetes.namespace}", service: web, latency: 100ms}
%s`

// TestRunDryRunKube checks that faultline run --dry-run resolves the
// Kubernetes faults against the cluster named by --kubeconfig and
// --namespace (KUBECONFIG unset, the file's namespace absent): the pods and
// the Service each would hit, EVERY for a fault on all of a workload's
// pods; and that a selector matching nothing is one line naming the fault,
// exit 5. Nothing changes in the namespace.
func TestRunDryRunKube(t *testing.T) {
	t.Parallel()
	c, ns, before := kubeNamespaceWithWeb(t)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"faultline.test": "1"}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	if _, err := c.CoreV1().Services(ns).Create(t.Context(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := webPods(t, c, ns)
	dir := t.TempDir()
	write := func(name, extra string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(fmt.Sprintf(dryRunExperiment, extra)), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	kubeconfig := testenv.KubeconfigPath()
	code, out, errb := runCLIEnv(t, nil, "run", write("ok.yaml", ""), "--dry-run", "--kubeconfig", kubeconfig, "--namespace", ns)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errb)
	}
	for _, want := range []string{
		"kubernetes faults (namespace " + ns + ", kubeconfig " + kubeconfig + ")",
		"fault.faults[0] pod_kill: would pod_kill (grace period 0s) pod(s) " + strings.Join(pods, ", "),
		"hits EVERY pod of deployment/web (2 of 2 pods)",
		"fault.faults[1] pod_failure: would pod_failure",
		"fault.faults[2] service_latency: would latency 100ms downstream on Service " + ns + "/web (pods " + strings.Join(pods, ", ") + ")",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "EVERY") != 1 {
		t.Errorf("want EVERY once (pod_kill mode all, not pod_failure mode one):\n%s", out)
	}
	nothing := "      - {kind: pod_kill, namespace: \"${kubernetes.namespace}\", labels: {app: nothing}}\n"
	code, out, errb = runCLIEnv(t, nil, "run", write("none.yaml", nothing), "--dry-run", "--kubeconfig", kubeconfig, "--namespace", ns)
	if code != 5 || !strings.Contains(errb, "fault.faults[3] pod_kill: ") || strings.Count(strings.TrimSpace(errb), "\n") != 0 {
		t.Errorf("a selector matching nothing: exit %d, want 5 and one line naming the fault\n%s\n%s", code, out, errb)
	}
	if after := testenv.KubePodState(t, c, ns); after != before {
		t.Errorf("the dry run changed the namespace:\n%s\nbefore:\n%s", after, before)
	}
}

// webPods lists the pods of app=web in ns, sorted.
func webPods(t *testing.T, c *kube.Client, ns string) []string {
	t.Helper()
	list, err := c.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list.Items {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	return names
}
