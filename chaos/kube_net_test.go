package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/faultline-dev/faultline/internal/kube"
	"github.com/faultline-dev/faultline/internal/testenv"
)

// netKube is one test's namespace on the test cluster, the faultline image
// loaded there, and an Env that reaches the cluster as the faults do.
type netKube struct {
	c     *kube.Client
	ns    string
	image string
	env   *Env
}

func newNetKube(t *testing.T) *netKube {
	t.Helper()
	c := testenv.Kube(t)
	_, image := dockerEngine(t)
	testenv.KubeImportImage(t, image)
	ns := testenv.KubeNamespace(t, c)
	env := &Env{Kube: KubeConfig{Kubeconfig: testenv.KubeconfigPath()}, Seed: 1}
	t.Cleanup(func() { env.Close() })
	return &netKube{c: c, ns: ns, image: image, env: env}
}

// store deploys the shop's store service, replicas pods labelled app=store
// serving HTTP on their port "http" (8080), and the Service store (port 80
// to target port "http"); it returns the Service once its endpoints are
// ready.
func (k *netKube) store(t *testing.T, replicas int32) *corev1.Service {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{"app": "store"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "store"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: new(int64(1)),
					Containers: []corev1.Container{{
						Name: "store", Image: k.image, ImagePullPolicy: corev1.PullNever,
						Args:           []string{"targets", "serve", "store", "--listen", "0.0.0.0:8080"},
						Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("http")}}, PeriodSeconds: 1},
					}},
				},
			},
		},
	}
	if _, err := k.c.AppsV1().Deployments(k.ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "store"},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "web", Port: 80, TargetPort: intstr.FromString("http")}}},
	}
	svc, err := k.c.CoreV1().Services(k.ns).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = waitEndpoints(ctx, k.c, k.ns, "store", func(ready, all []string) bool { return len(ready) == int(replicas) && len(all) == len(ready) })
	if err != nil {
		t.Fatalf("store not ready: %v", err)
	}
	return svc
}

// selectorJSON is the Service's selector as the API server returns it.
func (k *netKube) selectorJSON(t *testing.T, name string) string {
	t.Helper()
	svc, err := k.c.CoreV1().Services(k.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(svc.Spec.Selector)
	return string(raw)
}

// assertNothingLeft waits (bounded) until the namespace holds no pod and no
// Service that faultline created.
func (k *netKube) assertNothingLeft(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	sel := metav1.ListOptions{LabelSelector: LabelManagedBy + "=faultline"}
	var left []string
	for ctx.Err() == nil {
		left = left[:0]
		pods, err := k.c.CoreV1().Pods(k.ns).List(ctx, sel)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			left = append(left, "pod/"+p.Name)
		}
		svcs, err := k.c.CoreV1().Services(k.ns).List(ctx, sel)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range svcs.Items {
			left = append(left, "service/"+s.Name)
		}
		if len(left) == 0 {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Errorf("left in %s after revert: %v", k.ns, left)
}

// sample is one request of a switch load.
type sample struct {
	start time.Time
	took  time.Duration
	err   error
}

// switchLoad sends GET url at a fixed rate until ctx ends, on one client:
// keep-alive connections, or a new connection per request.
func switchLoad(ctx context.Context, url string, rate int, mode string) []sample {
	tr := &http.Transport{DisableKeepAlives: mode == "new-conn", MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	// max-age-1s keeps connections alive but drops the pool every second,
	// as the shop's links do on Kubernetes (links.max_conn_age).
	var rotMu sync.Mutex
	rotated := time.Now()
	rotate := func() {
		rotMu.Lock()
		defer rotMu.Unlock()
		if mode == "max-age-1s" && time.Since(rotated) >= time.Second {
			tr.CloseIdleConnections()
			rotated = time.Now()
		}
	}
	var (
		mu  sync.Mutex
		out []sample
		wg  sync.WaitGroup
	)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return out
		case <-tick.C:
		}
		wg.Go(func() {
			rotate()
			s := sample{start: time.Now()}
			resp, err := hc.Get(url)
			if err == nil {
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("HTTP %d %q", resp.StatusCode, body)
				}
			}
			s.took, s.err = time.Since(s.start), err
			mu.Lock()
			out = append(out, s)
			mu.Unlock()
		})
	}
}

// phaseStats counts the samples that started in [from, to).
type phaseStats struct {
	n, errs, slow       int
	firstErr            string
	firstSlow, lastSlow time.Duration // after the phase's start
}

func countPhase(samples []sample, from, to time.Time, slow time.Duration) phaseStats {
	var p phaseStats
	for _, s := range samples {
		if s.start.Before(from) || !s.start.Before(to) {
			continue
		}
		p.n++
		switch {
		case s.err != nil:
			p.errs++
			if p.firstErr == "" {
				p.firstErr = s.err.Error()
			}
		case s.took >= slow:
			if p.slow == 0 {
				p.firstSlow = s.start.Sub(from)
			}
			p.slow++
			p.lastSlow = s.start.Sub(from)
		}
	}
	return p
}

func (p phaseStats) String() string {
	s := fmt.Sprintf("%4d requests, %3d errors, %4d slow", p.n, p.errs, p.slow)
	if p.slow > 0 {
		s += fmt.Sprintf(" (sent %v to %v after the phase began)", p.firstSlow.Round(10*time.Millisecond), p.lastSlow.Round(10*time.Millisecond))
	}
	if p.firstErr != "" {
		s += " (first error: " + p.firstErr + ")"
	}
	return s
}

// podCgroup is where a pod's cgroup is on this machine (the test
// cluster's node), for cgroup v1 (one directory per controller) or v2.
type podCgroup struct {
	cpu, memory string
	v2          bool
}

func (c podCgroup) String() string { return c.cpu }

// cgroupOf finds the pod's cgroup directories, under either cgroup driver.
func cgroupOf(t *testing.T, pod *corev1.Pod) podCgroup {
	t.Helper()
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		dir := findPodDir(t, "/sys/fs/cgroup", pod)
		return podCgroup{cpu: dir, memory: dir, v2: true}
	}
	return podCgroup{cpu: findPodDir(t, "/sys/fs/cgroup/cpuacct", pod), memory: findPodDir(t, "/sys/fs/cgroup/memory", pod)}
}

func findPodDir(t *testing.T, root string, pod *corev1.Pod) string {
	t.Helper()
	uid := string(pod.UID)
	names := []string{"pod" + uid, "pod" + strings.ReplaceAll(uid, "-", "_")}
	var found string
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		switch {
		case found != "":
			return filepath.SkipAll
		case err != nil && d != nil && d.IsDir():
			return filepath.SkipDir
		case err != nil || !d.IsDir():
			return nil
		}
		base := strings.TrimSuffix(d.Name(), ".slice")
		for _, n := range names {
			if strings.HasSuffix(base, n) {
				found = path
				return filepath.SkipAll
			}
		}
		return nil
	})
	if found == "" {
		t.Skipf("no cgroup of pod %s (uid %s) under %s on this machine", pod.Name, uid, root)
	}
	return found
}

// readCgroup reads one number from a cgroup file; with key, from the line
// "key N" of a flat-keyed file.
func readCgroup(t *testing.T, path, key string) int64 {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.TrimSpace(string(raw))
	if key != "" {
		text = ""
		for line := range strings.Lines(string(raw)) {
			if v, ok := strings.CutPrefix(line, key+" "); ok {
				text = strings.TrimSpace(v)
			}
		}
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		t.Fatalf("%s %s: %v", path, key, err)
	}
	return n
}

// cgroupCPU is the CPU time the pod's cgroup has used.
func cgroupCPU(t *testing.T, c podCgroup) time.Duration {
	t.Helper()
	if c.v2 {
		return time.Duration(readCgroup(t, filepath.Join(c.cpu, "cpu.stat"), "usage_usec")) * time.Microsecond
	}
	return time.Duration(readCgroup(t, filepath.Join(c.cpu, "cpuacct.usage"), ""))
}

// cgroupMemory is the memory the pod's cgroup uses now.
func cgroupMemory(t *testing.T, c podCgroup) int64 {
	t.Helper()
	if c.v2 {
		return readCgroup(t, filepath.Join(c.memory, "memory.current"), "")
	}
	return readCgroup(t, filepath.Join(c.memory, "memory.usage_in_bytes"), "")
}

// cores is the CPU the cgroup used over window, in cores.
func cores(t *testing.T, dir podCgroup, window time.Duration) float64 {
	t.Helper()
	before, t0 := cgroupCPU(t, dir), time.Now()
	// A rate needs a window of time: this waits for the measurement.
	<-time.After(window)
	used, elapsed := cgroupCPU(t, dir)-before, time.Since(t0)
	return used.Seconds() / elapsed.Seconds()
}

// victim creates a bare pod of the pause image labelled app=name and waits
// until it runs.
func (k *netKube) victim(t *testing.T, name string) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: new(int64(0)),
			Containers:                    []corev1.Container{{Name: "main", Image: "faultline.local/pause:1", ImagePullPolicy: corev1.PullNever}},
		},
	}
	if _, err := k.c.CoreV1().Pods(k.ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := waitPodReady(ctx, k.c, k.ns, name, time.Minute); err != nil {
		t.Fatal(err)
	}
	pod, err := k.c.CoreV1().Pods(k.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pod
}

// ephemeralStatus is the state of a pod's ephemeral container.
func (k *netKube) ephemeralStatus(t *testing.T, pod, container string) *corev1.ContainerStatus {
	t.Helper()
	p, err := k.c.CoreV1().Pods(k.ns).Get(context.Background(), pod, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range p.Status.EphemeralContainerStatuses {
		if st.Name == container {
			return &st
		}
	}
	return nil
}

// serviceWithoutSelector is a Service whose endpoints are managed by hand.
func serviceWithoutSelector() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "manual"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
	}
}

// waitServing waits (bounded) until GET url answers 200 on a new connection:
// kube-proxy has programmed the Service.
func waitServing(t *testing.T, url string) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not answer after 30s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// podNames lists the names of the pods matching a label selector, sorted.
func (k *netKube) podNames(t *testing.T, selector string) []string {
	t.Helper()
	list, err := k.c.CoreV1().Pods(k.ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list.Items {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	return names
}
