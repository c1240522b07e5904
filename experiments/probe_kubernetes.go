package experiments

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/targets"
)

func init() {
	registerProbe(probeKind{name: "kubernetes", newCheck: func() probeCheck { return new(KubernetesProbe) }})
}

// KubernetesProbe checks workloads through the Kubernetes API: that a
// Deployment or StatefulSet has its ready replicas, and that no container
// of the pods a label selector picks has restarted since the probe's first
// reading in the run (before the first fault). A pod that appeared since
// (one a pod_kill replaced) must not have restarted at all. The cluster is
// the run's (targets.kubernetes, faultline run --kubeconfig, --context).
type KubernetesProbe struct {
	// Namespace of the workload and pods (default the namespace of
	// targets.kubernetes).
	Namespace string `yaml:"namespace"`
	// Deployment names a Deployment whose ready replicas are checked.
	Deployment string `yaml:"deployment"`
	// StatefulSet names a StatefulSet whose ready replicas are checked.
	StatefulSet string `yaml:"statefulset"`
	// ReadyReplicas is how many replicas must be ready (default all the
	// workload asks for, and at least one).
	ReadyReplicas int `yaml:"ready_replicas"`
	// NoRestarts selects pods by labels (KEY: VALUE, all must match) whose
	// containers must not have restarted.
	NoRestarts map[string]string `yaml:"no_restarts"`
	// Timeout bounds the probe's calls to the API (default 5s).
	Timeout time.Duration `yaml:"timeout"`

	mu      sync.Mutex
	cluster targets.KubeConfig
	first   map[string]int32 // restarts by pod UID at the first reading
}

func (p *KubernetesProbe) validate(v *validator, path string) {
	switch {
	case p.Deployment != "" && p.StatefulSet != "":
		v.problem(path, "give deployment or statefulset, not both")
	case p.Deployment == "" && p.StatefulSet == "" && len(p.NoRestarts) == 0:
		v.problem(path, "a kubernetes probe needs deployment, statefulset or no_restarts")
	case p.Deployment == "" && p.StatefulSet == "" && p.ReadyReplicas != 0:
		v.problem(path+".ready_replicas", "goes with deployment or statefulset")
	}
	if p.ReadyReplicas < 0 {
		v.problem(path+".ready_replicas", "must not be negative")
	}
	if p.Timeout < 0 {
		v.problem(path+".timeout", "must not be negative")
	}
	if p.Namespace == "" && v.exp.Targets.Kubernetes == nil && !v.undecoded("targets.kubernetes") {
		v.problem(path+".namespace", "required without targets.kubernetes (faultline does not guess a namespace)")
	}
}

func (p *KubernetesProbe) describe() string {
	var parts []string
	switch {
	case p.Deployment != "":
		parts = append(parts, "deployment "+p.Deployment+" "+p.wantReady())
	case p.StatefulSet != "":
		parts = append(parts, "statefulset "+p.StatefulSet+" "+p.wantReady())
	}
	if len(p.NoRestarts) > 0 {
		parts = append(parts, "no restarts of pods "+selectorString(p.NoRestarts))
	}
	ns := p.Namespace
	if ns == "" {
		ns = "${kubernetes.namespace}"
	}
	return "kubernetes " + ns + ": " + strings.Join(parts, ", ")
}

func (p *KubernetesProbe) wantReady() string {
	if p.ReadyReplicas > 0 {
		return fmt.Sprintf("has %d ready replicas", p.ReadyReplicas)
	}
	return "has all its replicas ready"
}

func selectorString(m map[string]string) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+m[k])
	}
	return strings.Join(out, ",")
}

// useCluster sets the run's cluster and forgets any earlier reading: the
// first reading of this run is the one restarts are counted from.
func (p *KubernetesProbe) useCluster(cfg targets.KubeConfig) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cluster, p.first = cfg, nil
}

func (p *KubernetesProbe) check(ctx context.Context, resolve func(string) string) probeResult {
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = defaultProbeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	cfg := p.cluster
	if ns := resolve(p.Namespace); ns != "" {
		cfg.Namespace = ns
	}
	var measured []string
	if kind, name := p.workload(); name != "" {
		m, bad := p.checkReady(ctx, cfg, kind, resolve(name))
		if bad != "" {
			return probeResult{Verdict: Deviated, Measured: m, Detail: bad}
		}
		measured = append(measured, m)
	}
	if len(p.NoRestarts) > 0 {
		sel := map[string]string{}
		for k, v := range p.NoRestarts {
			sel[k] = resolve(v)
		}
		m, bad := p.checkRestarts(ctx, cfg, sel)
		if bad != "" {
			return probeResult{Verdict: Deviated, Measured: m, Detail: bad}
		}
		measured = append(measured, m)
	}
	return probeResult{Verdict: Held, Measured: strings.Join(measured, "; "), Detail: "ok"}
}

func (p *KubernetesProbe) workload() (kind, name string) {
	if p.StatefulSet != "" {
		return targets.KindStatefulSet, p.StatefulSet
	}
	return targets.KindDeployment, p.Deployment
}

// checkReady returns what it measured and, when the workload falls short,
// why.
func (p *KubernetesProbe) checkReady(ctx context.Context, cfg targets.KubeConfig, kind, name string) (string, string) {
	w, err := targets.ReadKubeWorkload(ctx, cfg, kind, name)
	if err != nil {
		return "", err.Error()
	}
	want := int32(p.ReadyReplicas)
	if want == 0 {
		want = max(w.Desired, 1)
	}
	m := fmt.Sprintf("%s %s: %d/%d ready", strings.ToLower(kind), name, w.Ready, w.Desired)
	if w.Ready < want {
		return m, fmt.Sprintf("%s %s has %d ready replicas, want %d", strings.ToLower(kind), name, w.Ready, want)
	}
	return m, ""
}

// checkRestarts compares the pods' restart counts with the first reading
// (taken now if this is it).
func (p *KubernetesProbe) checkRestarts(ctx context.Context, cfg targets.KubeConfig, sel map[string]string) (string, string) {
	pods, err := targets.ListKubePods(ctx, cfg, sel)
	if err != nil {
		return "", err.Error()
	}
	if len(pods) == 0 {
		return "", fmt.Sprintf("no pod in %s matches %s", cfg.Namespace, selectorString(sel))
	}
	first := p.first == nil
	if first {
		p.first = map[string]int32{}
		for _, pod := range pods {
			p.first[pod.UID] = pod.Restarts
		}
	}
	var restarted []string
	kept := 0
	for _, pod := range pods {
		before, known := p.first[pod.UID]
		if known {
			kept++
		}
		if pod.Restarts > before {
			restarted = append(restarted, fmt.Sprintf("%s (%d restarts)", pod.Name, pod.Restarts-before))
		}
	}
	m := fmt.Sprintf("%d pods, none restarted", len(pods))
	if !first && kept < len(pods) {
		m += fmt.Sprintf(" (%d new since the first reading)", len(pods)-kept)
	}
	if len(restarted) > 0 {
		return fmt.Sprintf("%d of %d pods restarted", len(restarted), len(pods)),
			"restarted since the first reading: " + strings.Join(restarted, ", ")
	}
	return m, ""
}
