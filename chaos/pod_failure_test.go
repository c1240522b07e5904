package chaos

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/faultline-dev/faultline/internal/testenv"
)

// servingTemplate is a pod of the faultline test image serving the
// Toxiproxy API on 8474, with a readiness probe on it: pod_failure must
// make it unready.
func servingTemplate(t *testing.T, name string) corev1.PodTemplateSpec {
	t.Helper()
	_, image := dockerEngine(t)
	testenv.KubeImportImage(t, image)
	tpl := podTemplate(name, image)
	c := &tpl.Spec.Containers[0]
	c.Args = []string{"chaos", "toxiproxy", "serve", "--listen", "0.0.0.0:8474"}
	c.ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/version", Port: intstr.FromInt32(8474)}},
		PeriodSeconds: 1, FailureThreshold: 1,
	}
	return tpl
}

// TestPodFailure swaps the image of one pod of a serving Deployment for
// the pause image: the pod stays (same UID), its container is restarted
// with the pause image and turns unready; the revert puts the image back,
// and the pod is ready again. The restart counts are logged: each swap is
// one container restart.
func TestPodFailure(t *testing.T) {
	t.Parallel()
	k := newKubeTest(t)
	k.deploymentOf(t, "srv", 2, servingTemplate(t, "srv"))
	before := k.state(t)
	ctx := context.Background()
	var out strings.Builder
	s := NewSession(testLedger(t), k.env)
	s.Out = &out
	f := &podFailureFault{Target: podTarget{Namespace: k.ns, Labels: map[string]string{"app": "srv"}}, PauseImage: pauseImage}
	start := time.Now()
	e, err := s.Inject(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	victim := e.Injection.(*podFailureInjection).Pods[0].Pod
	pod := k.waitPod(t, victim.Name, 60*time.Second, func(p *corev1.Pod) bool { return !podReady(p) && restarts(p) >= 1 })
	t.Logf("pod_failure: %s unready %s after the patch (restarts %d, image %s)", victim.Name, time.Since(start).Round(time.Millisecond), restarts(pod), pod.Spec.Containers[0].Image)
	if string(pod.UID) != victim.UID || pod.Spec.Containers[0].Image != pauseImage {
		t.Fatalf("pod %s: uid %s image %s, want the same pod running %s", pod.Name, pod.UID, pod.Spec.Containers[0].Image, pauseImage)
	}
	for _, p := range k.pods(t, "srv") {
		if p.Name != victim.Name && (!podReady(&p) || restarts(&p) != 0) {
			t.Fatalf("the other pod %s was touched: ready %v, restarts %d", p.Name, podReady(&p), restarts(&p))
		}
	}
	start = time.Now()
	if err := s.Revert(ctx, e); err != nil {
		t.Fatal(err)
	}
	pod = k.waitPod(t, victim.Name, time.Second, podReady)
	t.Logf("pod_failure revert: %s ready %s after the revert began (restarts %d)", victim.Name, time.Since(start).Round(time.Millisecond), restarts(pod))
	if !strings.Contains(out.String(), "pod "+victim.Name+" images restored; pod/"+victim.Name+" ready after") {
		t.Fatalf("output:\n%s", out.String())
	}
	k.waitState(t, before, 10*time.Second)
}

func restarts(p *corev1.Pod) int32 {
	var n int32
	for _, cs := range p.Status.ContainerStatuses {
		n += cs.RestartCount
	}
	return n
}

// waitPod polls the pod until cond holds, or fails.
func (k *kubeTest) waitPod(t *testing.T, name string, within time.Duration, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		p, err := k.c.CoreV1().Pods(k.ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cond(p) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s: condition not met after %s: %+v", name, within, p.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPodFailurePlan checks the dry run names pods and containers, says
// when every pod of a workload fails, and patches nothing; and that a
// container the pods do not have is an error.
func TestPodFailurePlan(t *testing.T) {
	t.Parallel()
	k := newKubeTest(t)
	k.deployment(t, "web", 2)
	before := k.state(t)
	s := NewSession(testLedger(t), k.env)
	f := &podFailureFault{Target: podTarget{Namespace: k.ns, Labels: map[string]string{"app": "web"}, Selection: Selection{Mode: ModeAll}}}
	inj, err := s.Plan(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	d := inj.Describe()
	for _, want := range []string{"images -> " + DefaultPauseImage, "(main)", "hits EVERY pod of deployment/web (2 of 2 pods)"} {
		if !strings.Contains(d, want) {
			t.Errorf("plan %q does not say %q", d, want)
		}
	}
	f.Containers = []string{"sidecar"}
	if _, err := s.Plan(context.Background(), f); err == nil || !strings.Contains(err.Error(), `has no container "sidecar"`) || exitOf(err) != 5 {
		t.Errorf("absent container: %v", err)
	}
	if got := k.state(t); got != before {
		t.Fatalf("a dry run changed the cluster:\n%s\nwas:\n%s", got, before)
	}
}

func TestSameImage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"nginx", "docker.io/library/nginx:latest", true},
		{"user/app:1", "docker.io/user/app:1", true},
		{"faultline.local/pause:1", "faultline.local/pause:1", true},
		{"localhost:5000/app", "localhost:5000/app:latest", true},
		{"registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.9", false},
		{"app@sha256:abc", "docker.io/library/app@sha256:abc", true},
		{"faultline.local/pause:1", "faultline.local/absent:0", false},
	} {
		if got := sameImage(tc.a, tc.b); got != tc.same {
			t.Errorf("sameImage(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}
