package kube_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/internal/kube"
	"github.com/faultline-dev/faultline/internal/testenv"
)

// TestSelectOnCluster creates three pods that never start (an image that is not there and is never
// pulled) and checks selection against the real API server.
func TestSelectOnCluster(t *testing.T) {
	c := testenv.Kube(t)
	ns := testenv.KubeNamespace(t, c)
	ctx := context.Background()
	for i := range 3 {
		app := "a"
		if i == 2 {
			app = "b"
		}
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Labels: map[string]string{"app": app, "faultline.test": "1"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "c", Image: "faultline.local/absent:0", ImagePullPolicy: corev1.PullNever,
			}}},
		}
		if _, err := c.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.Select(ctx, kube.Selector{Namespace: ns, Labels: map[string]string{"app": "a"}, Mode: "all"})
	if err != nil || got.Matched != 2 || strings.Join(got.Names(), ",") != "p0,p1" || !got.All() {
		t.Fatalf("app=a all: %v %+v", err, got.Names())
	}
	got, err = c.Select(ctx, kube.Selector{Namespace: ns, Labels: map[string]string{"app": "a"}})
	if err != nil || len(got.Picked) != 1 || got.All() {
		t.Fatalf("app=a one: %v %v", err, got.Names())
	}
	got, err = c.Select(ctx, kube.Selector{Namespace: ns, Names: []string{"p2", "p9"}, Mode: "all"})
	if err != nil || strings.Join(got.Names(), ",") != "p2" {
		t.Fatalf("names: %v %v", err, got.Names())
	}
	if _, err := c.Select(ctx, kube.Selector{Namespace: ns, Labels: map[string]string{"app": "zzz"}}); err == nil ||
		!strings.Contains(err.Error(), "no pod matches") {
		t.Fatalf("no match: %v", err)
	}
	if _, err := c.Select(ctx, kube.Selector{Namespace: ns + "-absent", Labels: map[string]string{"app": "a"}}); err == nil ||
		!strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("absent namespace: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if _, err := kube.New(kube.Config{Kubeconfig: "/nonexistent/kubeconfig"}); err == nil ||
		!strings.Contains(err.Error(), "/nonexistent/kubeconfig") {
		t.Fatalf("missing kubeconfig: %v", err)
	}
	t.Setenv("KUBECONFIG", "")
	t.Setenv("HOME", t.TempDir())
	if _, err := kube.New(kube.Config{}); err != kube.ErrNoConfig {
		t.Fatalf("no config at all: %v", err)
	}
}
