package chaos

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/internal/kube"
)

// This file holds what the Kubernetes fault kinds share: selecting pods
// (podTarget, embedded by every pod kind), reaching the cluster once per
// Env, and how the ledger names the cluster and the objects a fault acts
// on, so that `faultline chaos cleanup` finds them after a SIGKILL.

// KubeConfig says which cluster pod faults act on (Env.Kube): a kubeconfig
// and a context. It is internal/kube's, so that commands need not import
// the Kubernetes packages.
type KubeConfig = kube.Config

// CheckKube reports, without contacting the cluster, whether cfg can make
// a client at all: a kubeconfig that is missing or unreadable, or a context
// it does not have, is a usage error (exit code 2) naming the kind, known
// before anything runs. Reaching the API server is left to the fault.
func CheckKube(kindName string, cfg KubeConfig) error {
	if _, err := kube.New(cfg); err != nil {
		return exitcode.Wrap(fmt.Errorf("%s: kubernetes: %w", kindName, err), exitcode.Usage)
	}
	return nil
}

// podTarget selects running pods: every pod kind embeds it. Namespace and
// labels or names are required, so that no fault hits every pod of a
// namespace by accident. Mode and value mean what they mean for
// containers (Selection), and so does the seed.
type podTarget struct {
	Namespace string            `yaml:"namespace,omitempty" doc:"the namespace (required: faultline does not guess one)"`
	Labels    map[string]string `yaml:"labels,omitempty" flag:"label" doc:"pods carrying every one of these labels, KEY: VALUE; labels or names is required"`
	Names     []string          `yaml:"names,omitempty" flag:"name" doc:"pod names to match exactly (alone, or with labels: both must match)"`
	Selection `yaml:",inline"`
	Seed      *uint64 `yaml:"seed,omitempty" doc:"this fault's seed for picking among the matching pods, overriding the run's"`
}

// selector is the target as internal/kube selects pods: every pod that
// matches; the mode and seed are applied by Pick, as for containers.
func (t podTarget) selector() kube.Selector {
	return kube.Selector{Namespace: t.Namespace, Labels: t.Labels, Names: t.Names, Mode: kube.ModeAll}
}

func (t podTarget) validate() []error {
	var errs []error
	if err := t.selector().Validate(); err != nil {
		// kube.Selector's messages start with the field's name.
		field, _, _ := strings.Cut(err.Error(), ":")
		errs = append(errs, &FieldError{Field: field, Err: err})
	}
	return append(errs, t.Selection.Validate()...)
}

// describe says which pods the target picks.
func (t podTarget) describe() string {
	return fmt.Sprintf("%s of the pods with %s in namespace %s", t.Selection, t.match(), t.Namespace)
}

// match renders the labels and names the target matches.
func (t podTarget) match() string {
	var parts []string
	if len(t.Labels) > 0 {
		var ls []string
		for _, k := range slices.Sorted(maps.Keys(t.Labels)) {
			ls = append(ls, k+"="+t.Labels[k])
		}
		parts = append(parts, "labels "+strings.Join(ls, ","))
	}
	if len(t.Names) > 0 {
		parts = append(parts, "names "+strings.Join(t.Names, ","))
	}
	return strings.Join(parts, " and ")
}

func (t podTarget) seed(env *Env) uint64 {
	if t.Seed != nil {
		return *t.Seed
	}
	return env.Seed
}

// podPick is what a podTarget picked, touching nothing.
type podPick struct {
	Client  *kube.Client
	Cluster kubeCluster
	Pods    []corev1.Pod // the victims, sorted by name
	Matched int          // how many pods matched
	How     string       // how they were picked, for descriptions
}

// pick finds the pods the target selects. A namespace that does not
// exist and a selector matching nothing are errors.
func (t podTarget) pick(ctx context.Context, env *Env) (*podPick, error) {
	c, cluster, err := env.kubeClient(ctx)
	if err != nil {
		return nil, err
	}
	sel, err := c.Select(ctx, t.selector())
	if err != nil {
		return nil, fmt.Errorf("kubernetes API %s: %w", cluster.Server, err)
	}
	seed := t.seed(env)
	pods, err := Pick(sel.Picked, func(p corev1.Pod) string { return p.Name }, t.Selection, seed)
	if err != nil {
		return nil, fmt.Errorf("select among %d pods: %w", sel.Matched, err)
	}
	how := fmt.Sprintf("%s of %d with %s in %s, seed %d", t.Selection, sel.Matched, t.match(), t.Namespace, seed)
	return &podPick{Client: c, Cluster: cluster, Pods: pods, Matched: sel.Matched, How: how}, nil
}

// kubeCluster names, in the ledger, the cluster a fault acts on: how this
// process reached it, and the API server's address, which a revert in
// another process checks it reaches too.
type kubeCluster struct {
	Kubeconfig string `json:"kubeconfig,omitempty"` // absolute path; empty for in-cluster
	Context    string `json:"context,omitempty"`
	Server     string `json:"server"`
}

// kubeObject is one Kubernetes object a fault acts on, as the ledger
// records it.
type kubeObject struct {
	Kind      string `json:"kind"` // Pod, Deployment, StatefulSet, ReplicaSet...
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid,omitempty"`
}

// String is how kubectl names the object: deployment/web.
func (o kubeObject) String() string { return strings.ToLower(o.Kind) + "/" + o.Name }

// podObject is the ledger's name for a pod.
func podObject(p *corev1.Pod) kubeObject {
	return kubeObject{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: string(p.UID)}
}

// kubeClient returns the client of the cluster env.Kube names, made and
// checked (the API server answers) once per Env.
func (e *Env) kubeClient(ctx context.Context) (*kube.Client, kubeCluster, error) {
	return e.kubeFor(ctx, e.Kube)
}

func (e *Env) kubeFor(ctx context.Context, cfg kube.Config) (*kube.Client, kubeCluster, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.kubes[cfg]; ok {
		return c, clusterOf(c, cfg), nil
	}
	c, err := kube.New(cfg)
	if err != nil {
		return nil, kubeCluster{}, fmt.Errorf("kubernetes: %w", err)
	}
	if err := c.Ping(ctx); err != nil {
		return nil, kubeCluster{}, fmt.Errorf("%w (kubeconfig %s)", err, c.Source)
	}
	if e.kubes == nil {
		e.kubes = map[kube.Config]*kube.Client{}
	}
	e.kubes[cfg] = c
	return c, clusterOf(c, cfg), nil
}

func clusterOf(c *kube.Client, cfg kube.Config) kubeCluster {
	kc := kubeCluster{Context: cfg.Context, Server: c.REST.Host}
	if c.Source != "in-cluster" {
		kc.Kubeconfig = c.Source
		if abs, err := filepath.Abs(c.Source); err == nil {
			kc.Kubeconfig = abs
		}
	}
	return kc
}

// client reaches the cluster the ledger recorded: through env.Kube when it
// names a cluster (--kubeconfig, --context), else as the injecting process
// did. A different API server is an error rather than a revert on the
// wrong cluster.
func (k kubeCluster) client(ctx context.Context, env *Env) (*kube.Client, error) {
	cfg := env.Kube
	if cfg.Kubeconfig == "" && cfg.Context == "" {
		cfg.Kubeconfig, cfg.Context = k.Kubeconfig, k.Context
	}
	c, _, err := env.kubeFor(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if k.Server != "" && c.REST.Host != k.Server {
		return nil, fmt.Errorf("the fault is on the Kubernetes API server %s, but this process reaches %s: give --kubeconfig/--context for that cluster", k.Server, c.REST.Host)
	}
	return c, nil
}

// workloadOf names the workload that owns pod: the Deployment of its
// ReplicaSet, its StatefulSet, ReplicaSet (without a Deployment),
// DaemonSet or Job; nil for a pod no controller owns.
func workloadOf(ctx context.Context, c *kube.Client, pod *corev1.Pod) (*kubeObject, error) {
	ref := metav1.GetControllerOf(pod)
	if ref == nil {
		return nil, nil
	}
	obj := &kubeObject{Kind: ref.Kind, Namespace: pod.Namespace, Name: ref.Name, UID: string(ref.UID)}
	if ref.Kind != "ReplicaSet" {
		return obj, nil
	}
	rs, err := c.AppsV1().ReplicaSets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("replicaset %s of pod %s: %w", ref.Name, pod.Name, err)
	}
	if d := metav1.GetControllerOf(rs); d != nil && d.Kind == "Deployment" {
		return &kubeObject{Kind: d.Kind, Namespace: pod.Namespace, Name: d.Name, UID: string(d.UID)}, nil
	}
	return obj, nil
}

// wholeWorkloads names the workloads every one of whose pods is among
// pods: a fault on them takes the whole workload down, which a plan says.
func wholeWorkloads(ctx context.Context, c *kube.Client, pods []corev1.Pod) ([]string, error) {
	if len(pods) == 0 {
		return nil, nil
	}
	ns := pods[0].Namespace
	all, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list pods in %s: %w", ns, err)
	}
	live := map[string]int{} // live pods per controller UID
	for _, p := range all.Items {
		if ref := metav1.GetControllerOf(&p); ref != nil && p.DeletionTimestamp == nil {
			live[string(ref.UID)]++
		}
	}
	hit := map[string]int{}
	owner := map[string]*corev1.Pod{}
	for i := range pods {
		if ref := metav1.GetControllerOf(&pods[i]); ref != nil {
			hit[string(ref.UID)]++
			owner[string(ref.UID)] = &pods[i]
		}
	}
	var out []string
	for _, uid := range slices.Sorted(maps.Keys(hit)) {
		if hit[uid] < live[uid] {
			continue
		}
		w, err := workloadOf(ctx, c, owner[uid])
		if err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprintf("%s (%d of %d pods)", w, hit[uid], live[uid]))
	}
	return out, nil
}

// everyPodNote is what a description adds when a fault hits every pod of
// some workload.
func everyPodNote(whole []string) string {
	if len(whole) == 0 {
		return ""
	}
	return "; hits EVERY pod of " + strings.Join(whole, ", ")
}

// DefaultReadyTimeout bounds how long a pod fault's revert waits for the
// workloads it touched to be ready again.
const DefaultReadyTimeout = 60 * time.Second

// readyWait is the field of pod kinds whose revert waits for workloads.
type readyWait struct {
	ReadyTimeout time.Duration `yaml:"ready_timeout,omitempty" default:"60s" doc:"how long revert waits for the workloads to be ready again; longer is a failed revert, which the ledger keeps for faultline chaos cleanup"`
}

func (r readyWait) validate() []error {
	if r.ReadyTimeout < 0 {
		return []error{fieldErrorf("ready_timeout", "ready_timeout %s: must not be negative", r.ReadyTimeout)}
	}
	return nil
}

func (r readyWait) timeout() time.Duration {
	if r.ReadyTimeout == 0 {
		return DefaultReadyTimeout
	}
	return r.ReadyTimeout
}

// waitReady waits, up to timeout (and ctx), until every workload is
// ready: as many ready pods, not being deleted, as it wants, and a status
// that says so. It returns a note per workload, such as "deployment/web
// ready (2/2) after 1.2s", or an error naming those that were not.
func waitReady(ctx context.Context, c *kube.Client, workloads []kubeObject, timeout time.Duration) (string, error) {
	return waitUntil(ctx, workloads, timeout, func(ctx context.Context, w kubeObject) (bool, string, error) {
		return workloadReady(ctx, c, w)
	})
}

// waitUntil polls check for each object in turn until it says ready, up
// to timeout in all, and notes how long each took.
func waitUntil(ctx context.Context, objs []kubeObject, timeout time.Duration, check func(context.Context, kubeObject) (bool, string, error)) (string, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var notes []string
	for _, w := range objs {
		var last error // the last answer that was not the deadline's
		for {
			ready, status, err := check(ctx, w)
			if err == nil && ready {
				notes = append(notes, fmt.Sprintf("%s %s after %s", w, status, time.Since(start).Round(100*time.Millisecond)))
				break
			}
			if err == nil {
				last = errors.New(status)
			} else if ctx.Err() == nil {
				last = err
			}
			if ctx.Err() != nil {
				if last == nil {
					last = err
				}
				return "", fmt.Errorf("%s not ready after %s: %w", w, timeout, last)
			}
			select {
			case <-ctx.Done():
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	return strings.Join(notes, "; "), nil
}

// workloadReady reports whether w has all the ready pods it wants, with a
// status such as "ready (2/2)" or "1/2 pods ready". A workload that is gone
// counts as ready: there is nothing left to wait for.
func workloadReady(ctx context.Context, c *kube.Client, w kubeObject) (bool, string, error) {
	var (
		want, statusReady int32
		observed          bool
		sel               *metav1.LabelSelector
		err               error
	)
	get := metav1.GetOptions{}
	switch w.Kind {
	case "Deployment":
		var d *appsv1.Deployment
		if d, err = c.AppsV1().Deployments(w.Namespace).Get(ctx, w.Name, get); err == nil {
			want, statusReady, sel = replicasOf(d.Spec.Replicas), d.Status.ReadyReplicas, d.Spec.Selector
			observed = d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == want && d.Status.Replicas == want
		}
	case "StatefulSet":
		var s *appsv1.StatefulSet
		if s, err = c.AppsV1().StatefulSets(w.Namespace).Get(ctx, w.Name, get); err == nil {
			want, statusReady, sel = replicasOf(s.Spec.Replicas), s.Status.ReadyReplicas, s.Spec.Selector
			observed = s.Status.ObservedGeneration >= s.Generation && s.Status.Replicas == want
		}
	case "ReplicaSet":
		var r *appsv1.ReplicaSet
		if r, err = c.AppsV1().ReplicaSets(w.Namespace).Get(ctx, w.Name, get); err == nil {
			want, statusReady, sel = replicasOf(r.Spec.Replicas), r.Status.ReadyReplicas, r.Spec.Selector
			observed = r.Status.ObservedGeneration >= r.Generation && r.Status.Replicas == want
		}
	case "DaemonSet":
		var d *appsv1.DaemonSet
		if d, err = c.AppsV1().DaemonSets(w.Namespace).Get(ctx, w.Name, get); err == nil {
			want, statusReady, sel = d.Status.DesiredNumberScheduled, d.Status.NumberReady, d.Spec.Selector
			observed = d.Status.ObservedGeneration >= d.Generation
		}
	default:
		return true, "not waited for (a " + w.Kind + ")", nil
	}
	if apierrors.IsNotFound(err) {
		return true, "is gone", nil
	}
	if err != nil {
		return false, "", err
	}
	pods, err := readyPods(ctx, c, w.Namespace, sel)
	if err != nil {
		return false, "", err
	}
	if observed && statusReady == want && pods == int(want) {
		return true, fmt.Sprintf("ready (%d/%d)", pods, want), nil
	}
	return false, fmt.Sprintf("%d/%d pods ready", pods, want), nil
}

// readyPods counts the pods sel matches that are ready and not being
// deleted.
func readyPods(ctx context.Context, c *kube.Client, ns string, sel *metav1.LabelSelector) (int, error) {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return 0, err
	}
	list, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: s.String()})
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range list.Items {
		if p := &list.Items[i]; p.DeletionTimestamp == nil && podReady(p) {
			n++
		}
	}
	return n, nil
}

// replicasOf is a spec's replica count: 1 when it is not set, as the API
// server defaults it.
func replicasOf(n *int32) int32 {
	if n == nil {
		return 1
	}
	return *n
}

// dryRun is the API's server-side dry run: every check (RBAC, admission,
// validation) without the change. Resolve runs the change that way, so a
// forbidden or invalid one is an error before the ledger records anything.
var dryRun = []string{metav1.DryRunAll}

// picksPods is a fault kind that picks pods by a podTarget.
type picksPods interface{ pods() podTarget }

func (f *podKillFault) pods() podTarget         { return f.Target }
func (f *podFailureFault) pods() podTarget      { return f.Target }
func (f *podCPUStressFault) pods() podTarget    { return f.Target.Pods }
func (f *podMemoryStressFault) pods() podTarget { return f.Target.Pods }

// PlanPods says, for a plan made before the pods exist (the shop a run
// deploys), how many of n matching pods the fault would pick, and the
// labels it matches them by; ok is false for a kind that does not pick
// pods by labels.
func PlanPods(f Fault, n int) (picked int, labels map[string]string, ok bool) {
	p, isPod := f.(picksPods)
	if !isPod || n <= 0 {
		return 0, nil, false
	}
	t := p.pods()
	if len(t.Names) > 0 || len(t.Labels) == 0 {
		return 0, nil, false
	}
	k, err := t.Selection.count(n)
	if err != nil {
		return 0, nil, false
	}
	return k, maps.Clone(t.Labels), true
}
