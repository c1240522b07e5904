package chaos

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/internal/kube"
	"github.com/faultline-dev/faultline/internal/testenv"
)

// pauseImage is the image the test cluster has loaded.
const pauseImage = testenv.KubePauseImage

// kubeTest is a namespace of the test cluster for one test, and the Env
// that reaches the cluster as the pod faults do.
type kubeTest struct {
	c   *kube.Client
	ns  string
	env *Env
}

func newKubeTest(t *testing.T) *kubeTest {
	t.Helper()
	c := testenv.Kube(t)
	ns := testenv.KubeNamespace(t, c)
	return &kubeTest{c: c, ns: ns, env: &Env{Kube: KubeConfig{Kubeconfig: testenv.KubeconfigPath()}, Seed: 1}}
}

func podTemplate(name, image string) corev1.PodTemplateSpec {
	return testenv.KubePodTemplate(name, image)
}

// deployment creates a ready Deployment of replicas pause pods, app=name.
func (k *kubeTest) deployment(t *testing.T, name string, replicas int32) {
	t.Helper()
	testenv.KubeDeployment(t, k.c, k.ns, name, replicas, podTemplate(name, pauseImage))
}

func (k *kubeTest) deploymentOf(t *testing.T, name string, replicas int32, tpl corev1.PodTemplateSpec) {
	t.Helper()
	testenv.KubeDeployment(t, k.c, k.ns, name, replicas, tpl)
}

// statefulSet creates a ready StatefulSet of replicas pause pods, app=name.
func (k *kubeTest) statefulSet(t *testing.T, name string, replicas int32) {
	t.Helper()
	testenv.KubeStatefulSet(t, k.c, k.ns, name, replicas, podTemplate(name, pauseImage))
}

func (k *kubeTest) state(t *testing.T) string { return testenv.KubePodState(t, k.c, k.ns) }

func (k *kubeTest) waitState(t *testing.T, want string, within time.Duration) {
	t.Helper()
	testenv.WaitKubePodState(t, k.c, k.ns, want, within)
}

// pods lists the pods of the namespace labelled app=name, not being
// deleted, sorted by name.
func (k *kubeTest) pods(t *testing.T, app string) []corev1.Pod {
	t.Helper()
	list, err := k.c.CoreV1().Pods(k.ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return out
}
