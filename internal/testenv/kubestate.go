package testenv

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/internal/kube"
)

// KubeState describes what a test compares before and after faults in a
// namespace, one sorted line each: every Deployment and StatefulSet with
// its replica count, every Service with its selector, and every pod
// faultline manages that is not the shop's (a Toxiproxy in front of a
// Service, a stressor), by name. Ready pods are not counted: a killed pod's
// replacement has another name.
func KubeState(t testing.TB, c *kube.Client, ns string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var lines []string
	deps, err := c.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list deployments in %s: %v", ns, err)
	}
	for _, d := range deps.Items {
		lines = append(lines, fmt.Sprintf("deployment/%s replicas=%d", d.Name, replicas(d.Spec.Replicas)))
	}
	sets, err := c.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list statefulsets in %s: %v", ns, err)
	}
	for _, s := range sets.Items {
		lines = append(lines, fmt.Sprintf("statefulset/%s replicas=%d", s.Name, replicas(s.Spec.Replicas)))
	}
	svcs, err := c.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list services in %s: %v", ns, err)
	}
	for _, s := range svcs.Items {
		var sel []string
		for _, k := range slices.Sorted(maps.Keys(s.Spec.Selector)) {
			sel = append(sel, k+"="+s.Spec.Selector[k])
		}
		lines = append(lines, fmt.Sprintf("service/%s selector=%s", s.Name, strings.Join(sel, ",")))
	}
	pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{
		LabelSelector: "app.kubernetes.io/managed-by=faultline,app.kubernetes.io/part-of!=faultline-shop",
	})
	if err != nil {
		t.Fatalf("list pods in %s: %v", ns, err)
	}
	for _, p := range pods.Items {
		lines = append(lines, "faultline pod/"+p.Name)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// KubeLabelled lists the pods, Jobs, Services and Secrets in ns that
// selector (a label selector) matches, as "kind/name".
func KubeLabelled(t testing.TB, c *kube.Client, ns, selector string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sel := metav1.ListOptions{LabelSelector: selector}
	var left []string
	pods, err1 := c.CoreV1().Pods(ns).List(ctx, sel)
	jobs, err2 := c.BatchV1().Jobs(ns).List(ctx, sel)
	svcs, err3 := c.CoreV1().Services(ns).List(ctx, sel)
	secrets, err4 := c.CoreV1().Secrets(ns).List(ctx, sel)
	for _, err := range []error{err1, err2, err3, err4} {
		if err != nil {
			t.Fatalf("list %s in %s: %v", selector, ns, err)
		}
	}
	for _, p := range pods.Items {
		left = append(left, "pod/"+p.Name)
	}
	for _, j := range jobs.Items {
		left = append(left, "job/"+j.Name)
	}
	for _, s := range svcs.Items {
		left = append(left, "service/"+s.Name)
	}
	for _, s := range secrets.Items {
		left = append(left, "secret/"+s.Name)
	}
	return left
}
