package testenv

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/internal/kube"
)

// KubePauseImage is the image the test cluster has loaded: pods of it run
// and need nothing else.
const KubePauseImage = "faultline.local/pause:1"

// KubePodTemplate is a pod of one container, main, of image (never
// pulled), labelled app=name and faultline.test=1, stopped at once when
// deleted.
func KubePodTemplate(name, image string) corev1.PodTemplateSpec {
	zero := int64(0)
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name, "faultline.test": "1"}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &zero,
			Containers:                    []corev1.Container{{Name: "main", Image: image, ImagePullPolicy: corev1.PullNever}},
		},
	}
}

// KubeDeployment creates a Deployment of replicas pods of tpl (selected by
// its app label) in ns and waits, up to two minutes, until it is ready.
func KubeDeployment(t testing.TB, c *kube.Client, ns, name string, replicas int32, tpl corev1.PodTemplateSpec) {
	t.Helper()
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"faultline.test": "1"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": tpl.Labels["app"]}},
			Template: tpl,
		},
	}
	if _, err := c.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitWorkload(t, c, ns, "deployment/"+name, func(ctx context.Context) (int32, int32, error) {
		d, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return 0, 0, err
		}
		return *d.Spec.Replicas, d.Status.ReadyReplicas, nil
	})
}

// KubeStatefulSet creates a StatefulSet (parallel pod management) of
// replicas pods of tpl in ns and waits, up to two minutes, until it is
// ready.
func KubeStatefulSet(t testing.TB, c *kube.Client, ns, name string, replicas int32, tpl corev1.PodTemplateSpec) {
	t.Helper()
	s := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"faultline.test": "1"}},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            &replicas,
			Selector:            &metav1.LabelSelector{MatchLabels: map[string]string{"app": tpl.Labels["app"]}},
			Template:            tpl,
			PodManagementPolicy: appsv1.ParallelPodManagement,
		},
	}
	if _, err := c.AppsV1().StatefulSets(ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitWorkload(t, c, ns, "statefulset/"+name, func(ctx context.Context) (int32, int32, error) {
		s, err := c.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return 0, 0, err
		}
		return *s.Spec.Replicas, s.Status.ReadyReplicas, nil
	})
}

func waitWorkload(t testing.TB, c *kube.Client, ns, what string, counts func(context.Context) (want, ready int32, err error)) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		want, ready, err := counts(context.Background())
		if err == nil && ready == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s in %s not ready after 2m (%d/%d ready, %v)", what, ns, ready, want, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// KubePodState describes namespace ns as a test of pod faults compares it
// before a fault and after its revert, closer than KubeState: each
// Deployment's and StatefulSet's replica count and template images, and
// each live pod's owner kind, app label, container images and readiness.
// Pod names are left out: a killed pod comes back under another name.
func KubePodState(t testing.TB, c *kube.Client, ns string) string {
	t.Helper()
	ctx := context.Background()
	var lines []string
	deps, err := c.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deps.Items {
		lines = append(lines, fmt.Sprintf("deployment/%s replicas=%d images=%s", d.Name, *d.Spec.Replicas, podImages(d.Spec.Template.Spec)))
	}
	sts, err := c.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sts.Items {
		lines = append(lines, fmt.Sprintf("statefulset/%s replicas=%d images=%s", s.Name, *s.Spec.Replicas, podImages(s.Spec.Template.Spec)))
	}
	pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		owner := "none"
		if ref := metav1.GetControllerOf(&p); ref != nil {
			owner = ref.Kind
		}
		ready := false
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady {
				ready = cond.Status == corev1.ConditionTrue
			}
		}
		lines = append(lines, fmt.Sprintf("pod of %s %s images=%s ready=%v", owner, p.Labels["app"], podImages(p.Spec), ready))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func podImages(spec corev1.PodSpec) string {
	var out []string
	for _, c := range spec.Containers {
		out = append(out, c.Name+"="+c.Image)
	}
	return strings.Join(out, ",")
}

// WaitKubePodState waits until KubePodState of ns is want (a revert may
// end before the last status of a workload is written), or fails t.
func WaitKubePodState(t testing.TB, c *kube.Client, ns, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := KubePodState(t, c, ns)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s not back after %s:\n got:\n%s\nwant:\n%s", ns, within, got, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
