package experiments

import (
	"bytes"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/targets"
)

// kubeBase is an experiment on the shop deployed on Kubernetes; cases
// append to its targets block (indented four spaces) or its probes.
const kubeBase = `name: k
targets:
  kubernetes:
    namespace: shop
    shop: true
TARGETS
load:
  rate: 10/s
  requests:
    - url: ${targets.gateway}/api/products/p001
steady_state:
  probes:
PROBES
phases:
  - name: a
    duration: 5s
`

func kubeExperiment(targets, probes string) string {
	if probes == "" {
		probes = "    - name: ready\n      kubernetes: {deployment: gateway}"
	}
	return strings.NewReplacer("TARGETS\n", targets, "PROBES", probes).Replace(kubeBase)
}

func TestKubernetesTargetsProblems(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, targets, probes, want string }{
		{"no namespace", "", "", ""},
		{"bad namespace", "    services: {pay: payment}\n", "", ""},
		{"shop twice", "  shop: true\n", "", "targets.kubernetes.shop: the shop runs in one place"},
		{"replicas of no service", "    replicas: {web: 2}\n", "", `unknown service "web"`},
		{"too many replicas", "    replicas: {catalog: 50}\n", "", "catalog=50: want 1 to 20"},
		{"service named like the shop's", "    services: {catalog: catalog}\n", "", `"catalog" is a service of the bundled shop`},
		{"bad service ref", "    services: {pay: 'Payment:'}\n", "", `want SERVICE or SERVICE:PORT, got "Payment:"`},
		{"unknown ref", "", "    - name: x\n      http: {url: '${kubernetes.nmespace}'}", "unresolvable"},
		{"probe without a check", "", "    - name: x\n      kubernetes: {namespace: shop}", "needs deployment, statefulset or no_restarts"},
		{"probe with both", "", "    - name: x\n      kubernetes: {deployment: a, statefulset: b}", "not both"},
		{"probe ready without workload", "", "    - name: x\n      kubernetes: {no_restarts: {app: a}, ready_replicas: 2}", "ready_replicas: goes with deployment or statefulset"},
		{"probe expect", "", "    - name: x\n      expect: value > 1\n      kubernetes: {deployment: a}", "checks its own fields"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := kubeExperiment(c.targets, c.probes)
			switch c.name {
			case "no namespace":
				src, c.want = strings.Replace(src, "    namespace: shop\n", "", 1), "targets.kubernetes.namespace: required"
			case "bad namespace":
				src, c.want = strings.Replace(src, "namespace: shop", "namespace: Shop_1", 1), `"Shop_1" is not a namespace name`
			}
			_, err := Parse([]byte(src), "k.yaml", Options{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v\nwant %q", err, c.want)
			}
		})
	}
}

func TestKubernetesTargetsPlan(t *testing.T) {
	t.Parallel()
	src := kubeExperiment("    replicas: {catalog: 2}\n    services: {pay: 'payment:http'}\n",
		"    - name: ready\n      kubernetes: {deployment: catalog, ready_replicas: 2, no_restarts: {app: catalog}}\n    - name: pay up\n      http: {url: '${targets.pay}/healthz'}")
	src = strings.Replace(src, "/api/products/p001", "/api/products/p001?ns=${kubernetes.namespace}", 1)
	plan, err := Parse([]byte(src), "k.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := plan.Describe(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"kubernetes: namespace shop",
		"bundled shop, deployed for the run and removed after: store x1, catalog x2, orders x1, gateway x1 (image faultline/targets:latest)",
		"pay = service payment:http (its ClusterIP)",
		"kubernetes ${kubernetes.namespace}: deployment catalog has 2 ready replicas, no restarts of pods app=catalog",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--dry-run lacks %q:\n%s", want, out.String())
		}
	}
	env := &environment{plan: plan, opts: RunOptions{Kube: targets.KubeConfig{Namespace: "other"}}}
	if got := env.resolve("${kubernetes.namespace}"); got != "other" {
		t.Errorf("${kubernetes.namespace} with an override = %q, want other", got)
	}
}
