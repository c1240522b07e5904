package targets

import (
	"context"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// This file reads the state of workloads for the kubernetes steady-state
// probe, which lives in package experiments: only chaos and targets talk to
// the Kubernetes API.

// KubeWorkload is a Deployment's or StatefulSet's replica counts.
type KubeWorkload struct {
	Desired, Ready, Updated int32
}

// Workload kinds ReadKubeWorkload reads.
const (
	KindDeployment  = "Deployment"
	KindStatefulSet = "StatefulSet"
)

// ReadKubeWorkload reads the replica counts of the Deployment or StatefulSet
// name in cfg's namespace.
func ReadKubeWorkload(ctx context.Context, cfg KubeConfig, kind, name string) (KubeWorkload, error) {
	c, err := connectKube(ctx, cfg, nil)
	if err != nil {
		return KubeWorkload{}, err
	}
	switch kind {
	case KindDeployment:
		d, err := c.AppsV1().Deployments(c.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return KubeWorkload{}, fmt.Errorf("deployment %s/%s: %w", c.Namespace, name, err)
		}
		return KubeWorkload{Desired: replicasOf(d.Spec.Replicas), Ready: d.Status.ReadyReplicas, Updated: d.Status.UpdatedReplicas}, nil
	case KindStatefulSet:
		s, err := c.AppsV1().StatefulSets(c.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return KubeWorkload{}, fmt.Errorf("statefulset %s/%s: %w", c.Namespace, name, err)
		}
		return KubeWorkload{Desired: replicasOf(s.Spec.Replicas), Ready: s.Status.ReadyReplicas, Updated: s.Status.UpdatedReplicas}, nil
	}
	return KubeWorkload{}, fmt.Errorf("workload kind %q: want %s or %s", kind, KindDeployment, KindStatefulSet)
}

func replicasOf(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// KubePod is one pod as the restart check sees it.
type KubePod struct {
	Name, UID string
	// Restarts sums its containers' restart counts (init containers too).
	Restarts int32
}

// ListKubePods lists the pods carrying every one of sel's labels in cfg's
// namespace, sorted by name; pods being deleted are left out.
func ListKubePods(ctx context.Context, cfg KubeConfig, sel map[string]string) ([]KubePod, error) {
	c, err := connectKube(ctx, cfg, nil)
	if err != nil {
		return nil, err
	}
	ls, err := labels.ValidatedSelectorFromSet(sel)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	list, err := c.CoreV1().Pods(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: ls.String()})
	if err != nil {
		return nil, fmt.Errorf("list pods in %s: %w", c.Namespace, err)
	}
	var out []KubePod
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		kp := KubePod{Name: p.Name, UID: string(p.UID)}
		for _, cs := range append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
			kp.Restarts += cs.RestartCount
		}
		out = append(out, kp)
	}
	slices.SortFunc(out, func(a, b KubePod) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
