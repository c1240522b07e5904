package chaos

import (
	"context"
	"fmt"
	"strings"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/faultline-dev/faultline/internal/kube"
)

func init() {
	registerKind(kind{
		name:         "scale",
		group:        GroupPod,
		summary:      "scale a Deployment or StatefulSet to replicas; revert restores the count it had and waits until it is ready",
		newFault:     func() Fault { return new(scaleFault) },
		newInjection: func() Injection { return new(scaleInjection) },
	})
}

// scaleFault changes a workload's replica count for the fault's duration:
// to zero (an outage), to one (no redundancy) or up (a crowded node).
type scaleFault struct {
	Namespace string    `yaml:"namespace,omitempty" doc:"the namespace (required: faultline does not guess one)"`
	Workload  string    `yaml:"workload,omitempty" doc:"the workload to scale: deployment/NAME, statefulset/NAME, or NAME when only one of the two has that name (required)"`
	Replicas  *int      `yaml:"replicas,omitempty" doc:"the replica count during the fault (required; 0 stops every pod)"`
	Wait      readyWait `yaml:",inline"`
}

var _ Fault = (*scaleFault)(nil)

func (f *scaleFault) Kind() string { return "scale" }

func (f *scaleFault) Validate() []error {
	var errs []error
	if f.Namespace == "" {
		errs = append(errs, fieldErrorf("namespace", "namespace: required (faultline does not guess a namespace)"))
	}
	if _, _, err := parseWorkload(f.Workload); err != nil {
		errs = append(errs, &FieldError{Field: "workload", Err: err})
	}
	switch {
	case f.Replicas == nil:
		errs = append(errs, fieldErrorf("replicas", "replicas: required, the count during the fault (0 or more)"))
	case *f.Replicas < 0 || *f.Replicas > 10000:
		errs = append(errs, fieldErrorf("replicas", "replicas %d: want 0 to 10000", *f.Replicas))
	}
	return append(errs, f.Wait.validate()...)
}

// parseWorkload splits deployment/NAME or statefulset/NAME (kubectl's
// short forms too); a bare NAME has kind "".
func parseWorkload(s string) (kind, name string, err error) {
	if s == "" {
		return "", "", fmt.Errorf("workload: required, such as deployment/web")
	}
	k, n, found := strings.Cut(s, "/")
	if !found {
		return "", s, nil
	}
	switch strings.ToLower(k) {
	case "deployment", "deployments", "deploy":
		k = "Deployment"
	case "statefulset", "statefulsets", "sts":
		k = "StatefulSet"
	default:
		return "", "", fmt.Errorf("workload %q: scale acts on deployment/NAME or statefulset/NAME", s)
	}
	if n == "" {
		return "", "", fmt.Errorf("workload %q: no name after the slash", s)
	}
	return k, n, nil
}

func (f *scaleFault) Describe() string {
	return fmt.Sprintf("scale %s to %d replicas in namespace %s", f.Workload, *f.Replicas, f.Namespace)
}

func (f *scaleFault) Resolve(ctx context.Context, env *Env) (Injection, error) {
	c, cluster, err := env.kubeClient(ctx)
	if err != nil {
		return nil, err
	}
	kind, name, _ := parseWorkload(f.Workload)
	sc, obj, err := findScalable(ctx, c, f.Namespace, kind, name)
	if err != nil {
		return nil, fmt.Errorf("kubernetes API %s: %w", cluster.Server, err)
	}
	to := int32(*f.Replicas)
	if sc.Spec.Replicas == to {
		return nil, fmt.Errorf("%s has %d replicas already: scale to %d would change nothing", obj, to, to)
	}
	// The dry run reads the Scale again and retries on a conflict, as the
	// injection does: the workload's controller may update it in between
	// (its status after a pod came back, as after a pod_failure's revert).
	from, ok, err := setScale(ctx, c, obj, to, dryRun)
	switch {
	case err != nil:
		return nil, fmt.Errorf("scale %s: %w", obj, err)
	case !ok:
		return nil, fmt.Errorf("%s was deleted and made again while it was resolved", obj)
	case from == to:
		return nil, fmt.Errorf("%s has %d replicas already: scale to %d would change nothing", obj, to, to)
	}
	return &scaleInjection{Cluster: cluster, Workload: obj, From: from, To: to, ReadyTimeout: f.Wait.timeout()}, nil
}

// scaleReadHook, when set (by tests), runs in a dry run between the read
// of the Scale and its write.
var scaleReadHook func(kubeObject)

// updateScale writes sc; with dry set, the API only checks it may.
func updateScale(ctx context.Context, c *kube.Client, w kubeObject, sc *autoscalingv1.Scale, dry []string) (*autoscalingv1.Scale, error) {
	if w.Kind == "StatefulSet" {
		return c.AppsV1().StatefulSets(w.Namespace).UpdateScale(ctx, w.Name, sc, metav1.UpdateOptions{DryRun: dry})
	}
	return c.AppsV1().Deployments(w.Namespace).UpdateScale(ctx, w.Name, sc, metav1.UpdateOptions{DryRun: dry})
}

// findScalable reads the scale of the named workload; with kind "", of the
// Deployment or else the StatefulSet of that name.
func findScalable(ctx context.Context, c *kube.Client, ns, kind, name string) (*autoscalingv1.Scale, kubeObject, error) {
	if _, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, kubeObject{}, fmt.Errorf("namespace %q does not exist", ns)
		}
		return nil, kubeObject{}, fmt.Errorf("namespace %q: %w", ns, err)
	}
	kinds := []string{kind}
	if kind == "" {
		kinds = []string{"Deployment", "StatefulSet"}
	}
	var found []*autoscalingv1.Scale
	var objs []kubeObject
	for _, k := range kinds {
		obj := kubeObject{Kind: k, Namespace: ns, Name: name}
		sc, err := getScale(ctx, c, obj)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, obj, fmt.Errorf("%s: %w", obj, err)
		}
		obj.UID = string(sc.UID)
		found, objs = append(found, sc), append(objs, obj)
	}
	switch len(found) {
	case 0:
		return nil, kubeObject{}, fmt.Errorf("no %s named %q in namespace %s", strings.ToLower(strings.Join(kinds, " or ")), name, ns)
	case 1:
		return found[0], objs[0], nil
	}
	return nil, kubeObject{}, fmt.Errorf("both deployment/%s and statefulset/%s exist in namespace %s: say which", name, name, ns)
}

func getScale(ctx context.Context, c *kube.Client, w kubeObject) (*autoscalingv1.Scale, error) {
	if w.Kind == "StatefulSet" {
		return c.AppsV1().StatefulSets(w.Namespace).GetScale(ctx, w.Name, metav1.GetOptions{})
	}
	return c.AppsV1().Deployments(w.Namespace).GetScale(ctx, w.Name, metav1.GetOptions{})
}

// setScale sets w's replica count, read-modify-write, retried on a
// conflict (with dry set, the API only checks it may); it returns the
// count w had. A workload of another UID (deleted and made again since) is
// left alone, with ok false.
func setScale(ctx context.Context, c *kube.Client, w kubeObject, n int32, dry []string) (before int32, ok bool, err error) {
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sc, err := getScale(ctx, c, w)
		if err != nil {
			return err
		}
		if w.UID != "" && string(sc.UID) != w.UID {
			ok = false
			return nil
		}
		before, ok = sc.Spec.Replicas, true
		if before == n {
			return nil
		}
		if h := scaleReadHook; h != nil && dry != nil {
			h(w)
		}
		sc.Spec.Replicas = n
		_, err = updateScale(ctx, c, w, sc, dry)
		return err
	})
	return before, ok, err
}

// scaleInjection sets a workload's replica count to To; revert sets it
// back to From, the count it had, and waits until it is ready.
type scaleInjection struct {
	Cluster      kubeCluster   `json:"cluster"`
	Workload     kubeObject    `json:"workload"`
	From         int32         `json:"from"`
	To           int32         `json:"to"`
	ReadyTimeout time.Duration `json:"ready_timeout"`
}

var _ Injection = (*scaleInjection)(nil)

func (s *scaleInjection) Describe() string {
	d := fmt.Sprintf("scale %s in namespace %s from %d to %d replicas on the Kubernetes API %s", s.Workload, s.Workload.Namespace, s.From, s.To, s.Cluster.Server)
	if s.To == 0 {
		d += "; stops EVERY pod of " + s.Workload.String()
	}
	return d
}

func (s *scaleInjection) Inject(ctx context.Context, env *Env) error {
	c, err := s.Cluster.client(ctx, env)
	if err != nil {
		return err
	}
	_, ok, err := setScale(ctx, c, s.Workload, s.To, nil)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s was deleted and made again since it was resolved", s.Workload)
	}
	return nil
}

func (s *scaleInjection) Revert(ctx context.Context, env *Env) (string, error) {
	c, err := s.Cluster.client(ctx, env)
	if err != nil {
		return "", err
	}
	now, ok, err := setScale(ctx, c, s.Workload, s.From, nil)
	switch {
	case apierrors.IsNotFound(err):
		return s.Workload.String() + " is gone", nil
	case err != nil:
		return "", fmt.Errorf("scale %s back to %d: %w", s.Workload, s.From, err)
	case !ok:
		return s.Workload.String() + " was deleted and made again since: left as it is", nil
	}
	note := fmt.Sprintf("%s scaled back to %d replicas", s.Workload, s.From)
	if now != s.To && now != s.From {
		note += fmt.Sprintf(" (it had %d, not %d: something else scaled it meanwhile)", now, s.To)
	}
	timeout := s.ReadyTimeout
	if timeout <= 0 {
		timeout = DefaultReadyTimeout
	}
	ready, err := waitReady(ctx, c, []kubeObject{s.Workload}, timeout)
	if err != nil {
		return "", fmt.Errorf("%s, but: %w", note, err)
	}
	return note + "; " + ready, nil
}
