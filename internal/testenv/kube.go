package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/internal/kube"
)

// RequireK8sEnv turns a missing Kubernetes cluster from a skip into a failure; .ci/run sets it
// after `cluster up`.
const RequireK8sEnv = "FAULTLINE_REQUIRE_K8S"

// ClusterScriptEnv names the shared test cluster's script (../shared/k8s/cluster); .ci/run sets it.
const ClusterScriptEnv = "FAULTLINE_K8S_CLUSTER"

// defaultKubeconfig is where the shared cluster script writes its kubeconfig by default.
const defaultKubeconfig = "/var/tmp/faultline-k8s/kubeconfig"

// KubeconfigPath is $KUBECONFIG, else the test cluster's default kubeconfig when it exists.
func KubeconfigPath() string {
	if p := os.Getenv("KUBECONFIG"); p != "" {
		return p
	}
	if _, err := os.Stat(defaultKubeconfig); err == nil {
		return defaultKubeconfig
	}
	return ""
}

// Kube returns a client of the test cluster, skipping t when none answers, or failing it when
// FAULTLINE_REQUIRE_K8S=1.
func Kube(t testing.TB) *kube.Client {
	t.Helper()
	fail := func(format string, a ...any) {
		msg := fmt.Sprintf(format, a...)
		if os.Getenv(RequireK8sEnv) == "1" {
			t.Fatalf("Kubernetes required (%s=1): %s", RequireK8sEnv, msg)
		}
		t.Skipf("%s; set %s=1 to make this a failure", msg, RequireK8sEnv)
	}
	path := KubeconfigPath()
	if path == "" {
		fail("no kubeconfig (KUBECONFIG unset and %s missing)", defaultKubeconfig)
	}
	c, err := kube.New(kube.Config{Kubeconfig: path})
	if err != nil {
		fail("%v", err)
	}
	if err := c.Ping(context.Background()); err != nil {
		fail("%v", err)
	}
	return c
}

// KubeNamespace creates a namespace labelled like every test object (faultline.test=1 and a fresh
// faultline.testrun) and deletes it, waiting up to a minute, when t ends.
func KubeNamespace(t testing.TB, c *kube.Client) string {
	t.Helper()
	labels, run := DockerLabels()
	name := "fl-test-" + run
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if _, err := c.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() { deleteNamespace(t, c, name) })
	return name
}

func deleteNamespace(t testing.TB, c *kube.Client, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	zero := int64(0)
	err := c.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("delete namespace %s: %v", name, err)
		return
	}
	for ctx.Err() == nil {
		if _, err := c.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Errorf("namespace %s still there after 90s", name)
}

// ClusterScript finds the shared test cluster's script: $FAULTLINE_K8S_CLUSTER, else shared/k8s/cluster
// in a parent directory of the working directory.
func ClusterScript() (string, error) {
	if p := os.Getenv(ClusterScriptEnv); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		p := filepath.Join(dir, "shared", "k8s", "cluster")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("the test cluster script: set %s", ClusterScriptEnv)
}

var imported sync.Map // image ref -> error, once per test binary

// KubeImportImage loads a Docker image (by ref) into the test cluster's containerd, once per test
// binary, with `docker save` and `cluster import`, for pods with imagePullPolicy: Never.
func KubeImportImage(t testing.TB, ref string) {
	t.Helper()
	v, _ := imported.LoadOrStore(ref, sync.OnceValue(func() error { return importImage(ref) }))
	if err := v.(func() error)(); err != nil {
		t.Fatalf("import %s into the test cluster: %v", ref, err)
	}
}

func importImage(ref string) error {
	script, err := ClusterScript()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "faultline-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tar := filepath.Join(dir, "image.tar")
	if out, err := exec.Command("docker", "save", "-o", tar, ref).CombinedOutput(); err != nil {
		return fmt.Errorf("docker save: %v: %s", err, out)
	}
	if out, err := exec.Command(script, "import", tar).CombinedOutput(); err != nil {
		return fmt.Errorf("%s import: %v: %s", script, err, out)
	}
	return nil
}
