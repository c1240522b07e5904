package experiments

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/faultline-dev/faultline/internal/kube"
	"github.com/faultline-dev/faultline/internal/testenv"
	"github.com/faultline-dev/faultline/targets"
)

// rbacDocs is the ServiceAccount, Role and RoleBinding docs/kubernetes.md
// gives, read from the file users apply.
type rbacDocs struct {
	account corev1.ServiceAccount
	role    rbacv1.Role
	binding rbacv1.RoleBinding
}

func readRBAC(t *testing.T) rbacDocs {
	t.Helper()
	f, err := os.Open("../docs/kubernetes-rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var docs rbacDocs
	dec := k8syaml.NewYAMLOrJSONDecoder(f, 4096)
	for {
		var meta metav1.TypeMeta
		var raw runtime.RawExtension
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if len(raw.Raw) == 0 {
			continue
		}
		if err := k8syaml.Unmarshal(raw.Raw, &meta); err != nil {
			t.Fatal(err)
		}
		var target any
		switch meta.Kind {
		case "ServiceAccount":
			target = &docs.account
		case "Role":
			target = &docs.role
		case "RoleBinding":
			target = &docs.binding
		default:
			t.Fatalf("docs/kubernetes-rbac.yaml: unexpected kind %q", meta.Kind)
		}
		if err := k8syaml.Unmarshal(raw.Raw, target); err != nil {
			t.Fatal(err)
		}
	}
	if docs.account.Name == "" || docs.role.Name == "" || docs.binding.Name == "" {
		t.Fatalf("docs/kubernetes-rbac.yaml lacks a ServiceAccount, Role or RoleBinding")
	}
	return docs
}

// kubeconfigAs applies docs (with its binding's subject in ns) to ns and
// writes a kubeconfig that authenticates as its ServiceAccount, with a
// token from the TokenRequest API: the test's runs go through the Role,
// not the admin's certificate.
func kubeconfigAs(t *testing.T, c *kube.Client, ns string, docs rbacDocs) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range docs.binding.Subjects {
		docs.binding.Subjects[i].Namespace = ns
	}
	if _, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, &docs.account, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RbacV1().Roles(ns).Create(ctx, &docs.role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RbacV1().RoleBindings(ns).Create(ctx, &docs.binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	expiry := int64(1800)
	tr, err := c.CoreV1().ServiceAccounts(ns).CreateToken(ctx, docs.account.Name,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ca := c.REST.TLSClientConfig.CAData
	if len(ca) == 0 && c.REST.TLSClientConfig.CAFile != "" {
		if ca, err = os.ReadFile(c.REST.TLSClientConfig.CAFile); err != nil {
			t.Fatal(err)
		}
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: c.REST.Host, CertificateAuthorityData: ca}
	cfg.AuthInfos["faultline"] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts["faultline"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "faultline", Namespace: ns}
	cfg.CurrentContext = "faultline"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestKubeRBAC runs the shop experiment (the shop deployed and removed,
// the kubernetes probe) under the Role of docs/kubernetes-rbac.yaml.
func TestKubeRBAC(t *testing.T) {
	t.Parallel()
	c := testenv.Kube(t)
	image := kubeTargetsImage(t)
	ns := testenv.KubeNamespace(t, c)
	kubeconfig := kubeconfigAs(t, c, ns, readRBAC(t))
	res, log := runKubeExperiment(t, kubeShopExperiment, RunOptions{Image: image, Kube: targets.KubeConfig{Kubeconfig: kubeconfig, Namespace: ns}})
	if res.Code != 0 {
		t.Fatalf("under the documented Role: exit %d (%s)\n%s", res.Code, res.Message, log)
	}
	if after := testenv.KubeState(t, c, ns); after != "" {
		t.Errorf("left in %s:\n%s", ns, after)
	}
}

// TestKubeRBACForbidden: with one verb missing from the Role (create on
// deployments), the run stops with one line naming the failure and the
// API's "forbidden", exit 5, and leaves nothing in the namespace.
func TestKubeRBACForbidden(t *testing.T) {
	t.Parallel()
	c := testenv.Kube(t)
	ns := testenv.KubeNamespace(t, c)
	docs := readRBAC(t)
	for i, r := range docs.role.Rules {
		if slices.Contains(r.Resources, "deployments") {
			docs.role.Rules[i].Verbs = slices.DeleteFunc(slices.Clone(r.Verbs), func(v string) bool { return v == "create" })
		}
	}
	kubeconfig := kubeconfigAs(t, c, ns, docs)
	res, log := runKubeExperiment(t, kubeShopExperiment, RunOptions{Image: "faultline-test/unused:none", Kube: targets.KubeConfig{Kubeconfig: kubeconfig, Namespace: ns}})
	t.Logf("exit %d: %s", res.Code, res.Message)
	if res.Code != 5 || strings.Contains(res.Message, "\n") || !strings.Contains(res.Message, "forbidden") ||
		!strings.Contains(res.Message, "create deployment "+ns+"/store") {
		t.Errorf("exit %d, message %q: want 5 and one line naming the forbidden create\n%s", res.Code, res.Message, log)
	}
	if after := testenv.KubeState(t, c, ns); after != "" {
		t.Errorf("left in %s:\n%s", ns, after)
	}
}

// runKubeExperiment runs src with opts (a report directory of the test's,
// and a ledger unless opts names one) and returns the result and the run's log.
func runKubeExperiment(t *testing.T, src string, opts RunOptions) (*Result, string) {
	t.Helper()
	plan, err := Parse([]byte(src), filepath.Join(t.TempDir(), "kube.yaml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	opts.Log, opts.Tool = &log, "test"
	if opts.LedgerPath == "" {
		opts.LedgerPath = filepath.Join(t.TempDir(), "ledger.jsonl")
	}
	opts.Dir = t.TempDir()
	res, err := Run(context.Background(), plan, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res, log.String()
}

// kubeFaultsExperiment runs every Kubernetes fault kind on the shop, one
// phase each. The gateway's retries absorb most requests to a killed or
// failed catalog pod, not all: until its readiness probe fails, kube-proxy
// still sends a share of the new connections to it (more than 10% of the
// phase's requests failed under pod_failure in one run), so those phases
// only check that most requests were served: the test is about the Role.
// So does scale: the replica scaled away drops the odd request in flight
// (one 502 of 60 in a busy CI run, 1.7%).
// A revert that waits (for pods to be ready, or for the Service's
// endpoints to leave the proxy pod) holds the timeline up, and a phase
// whose fault takes effect only after it has ended is inconclusive (in a
// CI run pod_failure's revert waited 6.4 s for its pod, and scale, in a 3 s
// phase, was injected 2 s after it). So every phase is long enough to take
// the wait before it and its own injection's time, and still hold its
// fault: on a quiet machine the stress fault's ephemeral container took
// 1.3 s to start and its revert 1.2 s, pod_failure's revert 0.5 s and
// scale's 1.6 s; the Service fault's proxy pod has to start and the
// Service to move, which took 1.4 s there and 5.5 s in a CI run at load
// average 13, so its phase is 20 s. A last phase without a fault takes
// scale's revert.
const kubeFaultsExperiment = `name: kube faults
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
phases:
  - name: baseline
    duration: 3s
  - name: stress
    duration: 6s
    faults:
      - {kind: pod_cpu_stress, namespace: "${kubernetes.namespace}", labels: {app: catalog}, load: 20}
  - name: kill
    duration: 6s
    faults:
      - {kind: pod_kill, namespace: "${kubernetes.namespace}", labels: {app: catalog}}
  - name: slow
    duration: 20s
    faults:
      - {kind: service_latency, namespace: "${kubernetes.namespace}", service: catalog, latency: 100ms}
  - name: fail
    duration: 8s
    faults:
      - {kind: pod_failure, namespace: "${kubernetes.namespace}", labels: {app: catalog}, pause_image: PAUSE_IMAGE}
  - name: scale
    duration: 10s
    faults:
      - {kind: scale, namespace: "${kubernetes.namespace}", workload: deployment/catalog, replicas: 1}
  - name: after
    duration: 10s
hypothesis:
  kill: [error_rate < 50%]
  fail: [error_rate < 50%]
  scale: [error_rate < 10%]
  slow: [error_rate < 1%, p99 > 100ms]
  stress: [error_rate < 1%]
`

// TestKubeRBACFaults runs every Kubernetes fault kind (pod_kill,
// pod_failure, scale, service_latency, pod_cpu_stress) on the shop under
// the Role of docs/kubernetes-rbac.yaml, not as admin: every fault injected
// and reverted, every hypothesis held, the namespace after the reverts as
// before the faults, and nothing left after the run. About 85 s: the
// shop's start, the 63 s load and the last revert's wait for ready pods.
func TestKubeRBACFaults(t *testing.T) {
	t.Parallel()
	c := testenv.Kube(t)
	image := kubeTargetsImage(t)
	ns := testenv.KubeNamespace(t, c)
	kubeconfig := kubeconfigAs(t, c, ns, readRBAC(t))
	opts := RunOptions{Image: image, Kube: targets.KubeConfig{Kubeconfig: kubeconfig, Namespace: ns}}
	var before, reverted string
	opts.hooks.afterSetUp = func() { before = testenv.KubeState(t, c, ns) }
	opts.hooks.afterRevert = func() { reverted = testenv.KubeState(t, c, ns) }
	res, log := runKubeExperiment(t, strings.Replace(kubeFaultsExperiment, "PAUSE_IMAGE", testenv.KubePauseImage, 1), opts)
	if res.Code != 0 {
		var summary bytes.Buffer
		_ = WriteSummary(&summary, res)
		t.Fatalf("under the documented Role: exit %d (%s)\n%s\n%s", res.Code, res.Message, summary.String(), log)
	}
	for _, what := range []string{"pod_kill", "pod_failure", "scale", "latency 100ms", "pod_cpu_stress"} {
		if !strings.Contains(log, "reverted "+what) {
			t.Errorf("no revert of %s in the log:\n%s", what, log)
		}
	}
	if before == "" || reverted != before {
		t.Errorf("namespace %s after the reverts:\n%s\nwant as before the faults:\n%s", ns, reverted, before)
	}
	if after := testenv.KubeState(t, c, ns); after != "" {
		t.Errorf("left in %s:\n%s", ns, after)
	}
}

// TestKubeRBACForbiddenFault: with delete taken off pods in the Role,
// pod_kill is refused by the API's dry run when it is due: one line naming
// the fault and the API's "forbidden", exit 5, no pod deleted, nothing in
// the ledger.
func TestKubeRBACForbiddenFault(t *testing.T) {
	t.Parallel()
	c := testenv.Kube(t)
	ns := testenv.KubeNamespace(t, c)
	testenv.KubeDeployment(t, c, ns, "web", 1, testenv.KubePodTemplate("web", testenv.KubePauseImage))
	before := testenv.KubePodState(t, c, ns)
	docs := readRBAC(t)
	for i, r := range docs.role.Rules {
		if slices.Contains(r.Resources, "pods") {
			docs.role.Rules[i].Verbs = slices.DeleteFunc(slices.Clone(r.Verbs), func(v string) bool { return v == "delete" })
		}
	}
	kubeconfig := kubeconfigAs(t, c, ns, docs)
	ledger := filepath.Join(t.TempDir(), "ledger.jsonl")
	res, log := runKubeExperiment(t, podKillExperiment(t, ns), RunOptions{Kube: targets.KubeConfig{Kubeconfig: kubeconfig}, LedgerPath: ledger})
	t.Logf("exit %d: %s", res.Code, res.Message)
	if res.Code != 5 || strings.Contains(res.Message, "\n") || !strings.Contains(res.Message, "kill.faults[0] pod_kill") ||
		!strings.Contains(res.Message, "forbidden") {
		t.Errorf("exit %d, message %q: want 5 and one line naming the fault and the refusal\n%s", res.Code, res.Message, log)
	}
	if after := testenv.KubePodState(t, c, ns); after != before {
		t.Errorf("pods after the refused fault:\n%s\nbefore:\n%s", after, before)
	}
	assertNoActive(t, ledger)
}
