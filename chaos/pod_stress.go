package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/retry"

	"github.com/faultline-dev/faultline/internal/kube"
	"github.com/faultline-dev/faultline/internal/stress"
)

// The pod stress kinds run `faultline stress` in an ephemeral container
// added to each picked pod (the pods/ephemeralcontainers subresource): it
// runs in the pod's cgroup, so its CPU and memory count against the pod,
// and it shares the process namespace of the target container. An
// ephemeral container cannot be removed: the stressor's own --for
// (max_duration) is what ends it if faultline does not, and revert ends it
// early with `faultline stress stop`, exec'd in that ephemeral container.

func init() {
	registerKind(kind{
		name:         "pod_cpu_stress",
		group:        GroupPod,
		summary:      "burn load percent of a CPU in each of workers threads inside pods (faultline stress cpu in an ephemeral container, charged to the pod's cgroup); revert stops it, max_duration ends it anyway",
		newFault:     func() Fault { return new(podCPUStressFault) },
		newInjection: func() Injection { return new(podStressInjection) },
	})
	registerKind(kind{
		name:         "pod_memory_stress",
		group:        GroupPod,
		summary:      "keep size of memory resident inside pods (faultline stress memory in an ephemeral container, charged to the pod's cgroup); revert stops it, max_duration ends it anyway",
		newFault:     func() Fault { return new(podMemoryStressFault) },
		newInjection: func() Injection { return new(podStressInjection) },
	})
}

// podStressTarget picks the pods a stress fault runs in.
type podStressTarget struct {
	Pods      podTarget `yaml:",inline"`
	Container string    `yaml:"container,omitempty" doc:"the container whose process namespace the stressor joins (default: the pod's first container); the load counts against the whole pod"`
	Image     string    `yaml:"image,omitempty" default:"faultline/targets:latest" doc:"the faultline image of the ephemeral container that runs the stressor; the cluster must be able to pull it or have it on its nodes"`
}

func (t podStressTarget) validate() []error {
	var errs []error
	if t.Container != "" && len(validation.IsDNS1123Label(t.Container)) > 0 {
		errs = append(errs, fieldErrorf("container", "container %q: not a Kubernetes container name", t.Container))
	}
	return append(t.Pods.validate(), errs...)
}

func (t podStressTarget) image() string {
	if t.Image == "" {
		return DefaultImage
	}
	return t.Image
}

// StressCPU are the fields of the CPU stressor, embedded by cpu_stress and
// pod_cpu_stress. The stressor's field structs are exported only so that a
// kind's struct can embed them (a kind's fields are its exported fields).
type StressCPU struct {
	Load    int `yaml:"load,omitempty" doc:"the share of a CPU each worker burns, in percent (required; 1 to 100), counted in the worker's own CPU time"`
	Workers int `yaml:"workers,omitempty" default:"1" doc:"the number of worker threads"`
}

func (c StressCPU) validateCPU() []error {
	var errs []error
	if !stress.ValidLoad(c.Load) {
		errs = append(errs, fieldErrorf("load", "load %d: want a percentage of a CPU from 1 to 100, such as 80", c.Load))
	}
	if c.Workers < 0 {
		errs = append(errs, fieldErrorf("workers", "workers %d: want at least 1", c.Workers))
	}
	return errs
}

// cpuArgs are the stressor's arguments after "stress".
func (c StressCPU) cpuArgs() []string {
	return []string{"cpu", "--load", strconv.Itoa(c.Load), "--workers", strconv.Itoa(max(c.Workers, 1))}
}

// StressMemory is the field of the memory stressor, embedded by
// memory_stress and pod_memory_stress.
type StressMemory struct {
	Size memoryBytes `yaml:"size,omitempty" doc:"how much memory to keep resident, with its unit (required), such as 256MiB"`
}

func (m StressMemory) validateMemory() []error {
	if m.Size <= 0 {
		return []error{fieldErrorf("size", "size %s: want a size with its unit, such as 256MiB", Size(m.Size))}
	}
	return nil
}

// memoryArgs are the stressor's arguments after "stress".
func (m StressMemory) memoryArgs() []string {
	return []string{"memory", "--size", strconv.FormatInt(int64(m.Size), 10) + "B"}
}

// StressLimit is the stressor's own time limit, embedded by the stress
// kinds.
type StressLimit struct {
	MaxDuration time.Duration `yaml:"max_duration,omitempty" default:"1h" doc:"the stressor's own time limit (at most 24h): it exits then even if the fault is never reverted; chaos inject --for D, and a fault of an experiment, lower it to the fault's duration"`
}

// limit is the stressor's --for.
func (l StressLimit) limit() time.Duration {
	if l.MaxDuration == 0 {
		return defaultStressLimit
	}
	return l.MaxDuration
}

// bound lowers the limit to d (at most stress.MaxFor) when it is unset or
// longer.
func (l *StressLimit) bound(d time.Duration) {
	d = min(d, stress.MaxFor)
	if d > 0 && (l.MaxDuration == 0 || l.MaxDuration > d) {
		l.MaxDuration = d
	}
}

// BoundStress makes the stressor of a stress fault (cpu_stress,
// memory_stress, pod_cpu_stress, pod_memory_stress) end by itself d after
// it starts at the latest, lowering its max_duration to d: the fault is
// held for d (`faultline chaos inject --for d`, a fault of an experiment),
// and a stressor that faultline cannot stop (it was killed, an ephemeral
// container cannot be removed) must not outlive that. It reports whether f
// has a stressor.
func BoundStress(f Fault, d time.Duration) bool {
	b, ok := f.(interface{ bound(time.Duration) })
	if ok {
		b.bound(d)
	}
	return ok
}

// podCPUStressFault is cpu_stress in pods: the same stressor fields.
type podCPUStressFault struct {
	Target      podStressTarget `yaml:",inline"`
	StressCPU   `yaml:",inline"`
	StressLimit `yaml:",inline"`
}

var _ Fault = (*podCPUStressFault)(nil)

func (f *podCPUStressFault) Kind() string { return "pod_cpu_stress" }

func (f *podCPUStressFault) Validate() []error {
	errs := append(f.Target.validate(), f.validateCPU()...)
	return append(errs, validateStressLimit(f.MaxDuration)...)
}

func (f *podCPUStressFault) what() string {
	return fmt.Sprintf("pod_cpu_stress %d%% x%d", f.Load, max(f.Workers, 1))
}

func (f *podCPUStressFault) Describe() string { return f.what() + " in " + f.Target.Pods.describe() }

func (f *podCPUStressFault) Resolve(ctx context.Context, env *Env) (Injection, error) {
	return resolvePodStress(ctx, env, f.Target, f.what(), f.cpuArgs(), f.limit())
}

// podMemoryStressFault is memory_stress in pods: the same stressor fields.
type podMemoryStressFault struct {
	Target       podStressTarget `yaml:",inline"`
	StressMemory `yaml:",inline"`
	StressLimit  `yaml:",inline"`
}

var _ Fault = (*podMemoryStressFault)(nil)

func (f *podMemoryStressFault) Kind() string { return "pod_memory_stress" }

func (f *podMemoryStressFault) Validate() []error {
	errs := append(f.Target.validate(), f.validateMemory()...)
	return append(errs, validateStressLimit(f.MaxDuration)...)
}

func (f *podMemoryStressFault) what() string {
	return fmt.Sprintf("pod_memory_stress %s", Size(f.Size))
}

func (f *podMemoryStressFault) Describe() string { return f.what() + " in " + f.Target.Pods.describe() }

func (f *podMemoryStressFault) Resolve(ctx context.Context, env *Env) (Injection, error) {
	return resolvePodStress(ctx, env, f.Target, f.what(), f.memoryArgs(), f.limit())
}

// stressPod is one pod a stress fault runs in.
type stressPod struct {
	Name string    `json:"name"`
	UID  types.UID `json:"uid"`
	// Target is the container whose process namespace the stressor joins.
	Target string `json:"target_container"`
}

// podStressInjection adds the ephemeral container Container, running
// /faultline Args, to each pod.
type podStressInjection struct {
	Cluster   kubeCluster   `json:"cluster"`
	Namespace string        `json:"namespace"`
	Pods      []stressPod   `json:"pods"`
	Container string        `json:"ephemeral_container"`
	Image     string        `json:"image"`
	Args      []string      `json:"args"`
	Limit     time.Duration `json:"limit"`
	What      string        `json:"what"`
	Selection string        `json:"selection"`
}

var _ Injection = (*podStressInjection)(nil)

func resolvePodStress(ctx context.Context, env *Env, t podStressTarget, what string, args []string, limit time.Duration) (Injection, error) {
	pick, err := t.Pods.pick(ctx, env)
	if err != nil {
		return nil, err
	}
	whole, err := wholeWorkloads(ctx, pick.Client, pick.Pods)
	if err != nil {
		return nil, err
	}
	inj := &podStressInjection{
		Cluster: pick.Cluster, Namespace: t.Pods.Namespace, Container: "faultline-stress-" + nonce(), Image: t.image(),
		Args: stressorArgs(args, limit), Limit: limit, What: what,
		Selection: pick.How + everyPodNote(whole),
	}
	for _, p := range pick.Pods {
		target := t.Container
		if target == "" {
			target = p.Spec.Containers[0].Name
		} else if !slices.ContainsFunc(p.Spec.Containers, func(c corev1.Container) bool { return c.Name == target }) {
			return nil, fmt.Errorf("pod %s/%s has no container %q", p.Namespace, p.Name, target)
		}
		inj.Pods = append(inj.Pods, stressPod{Name: p.Name, UID: p.UID, Target: target})
	}
	return inj, nil
}

func (s *podStressInjection) Describe() string {
	names := make([]string, len(s.Pods))
	for i, p := range s.Pods {
		names[i] = s.Namespace + "/" + p.Name
	}
	return fmt.Sprintf("%s in pod(s) %s (%s; ephemeral container %s, ends by itself after %v)", s.What, strings.Join(names, ", "), s.Selection, s.Container, s.Limit)
}

// ephemeralStartTimeout bounds the wait for an ephemeral container to run.
const ephemeralStartTimeout = 2 * time.Minute

func (s *podStressInjection) Inject(ctx context.Context, env *Env) error {
	c, err := s.Cluster.client(ctx, env)
	if err != nil {
		return err
	}
	for _, p := range s.Pods {
		if err := s.addContainer(ctx, c, p); err != nil {
			return err
		}
	}
	for _, p := range s.Pods {
		if err := s.waitRunning(ctx, c, p); err != nil {
			return err
		}
	}
	return nil
}

// addContainer adds the ephemeral container to one pod, retrying when the
// pod changed between read and write.
func (s *podStressInjection) addContainer(ctx context.Context, c *kube.Client, p stressPod) error {
	ec := corev1.EphemeralContainer{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: s.Container, Image: s.Image, ImagePullPolicy: corev1.PullIfNotPresent,
			Command: []string{"/faultline"}, Args: s.Args,
			SecurityContext:          restrictedContainer(),
			TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		},
		TargetContainerName: p.Target,
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod, err := c.CoreV1().Pods(s.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if pod.UID != p.UID {
			return fmt.Errorf("pod %s/%s was replaced since it was picked", s.Namespace, p.Name)
		}
		pod.Spec.EphemeralContainers = append(pod.Spec.EphemeralContainers, ec)
		_, err = c.CoreV1().Pods(s.Namespace).UpdateEphemeralContainers(ctx, p.Name, pod, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return kubeError(fmt.Sprintf("add ephemeral container %s to pod %s/%s", s.Container, s.Namespace, p.Name), err)
	}
	return nil
}

// ephemeralState is the state of the fault's ephemeral container in one
// pod; nil pod: the pod is gone (or replaced).
func (s *podStressInjection) ephemeralState(ctx context.Context, c *kube.Client, p stressPod) (*corev1.Pod, *corev1.ContainerState, error) {
	pod, err := c.CoreV1().Pods(s.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && pod.UID != p.UID) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, kubeError("get pod "+s.Namespace+"/"+p.Name, err)
	}
	for _, st := range pod.Status.EphemeralContainerStatuses {
		if st.Name == s.Container {
			return pod, &st.State, nil
		}
	}
	return pod, nil, nil
}

func (s *podStressInjection) waitRunning(ctx context.Context, c *kube.Client, p stressPod) error {
	ctx, cancel := context.WithTimeout(ctx, ephemeralStartTimeout)
	defer cancel()
	where := fmt.Sprintf("ephemeral container %s in pod %s/%s", s.Container, s.Namespace, p.Name)
	for {
		pod, st, err := s.ephemeralState(ctx, c, p)
		switch {
		case err != nil:
			return err
		case pod == nil:
			return fmt.Errorf("%s: the pod is gone", where)
		case st != nil && st.Running != nil:
			return nil
		case st != nil && st.Terminated != nil:
			return fmt.Errorf("%s exited with status %d (%s): %s", where, st.Terminated.ExitCode, st.Terminated.Reason, strings.TrimSpace(st.Terminated.Message))
		case st != nil && st.Waiting != nil && stuckReason(st.Waiting.Reason):
			return fmt.Errorf("%s cannot start: %s: %s (it starts by itself if that changes, and stops after %v)", where, st.Waiting.Reason, st.Waiting.Message, s.Limit)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not running after %v", where, ephemeralStartTimeout)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (s *podStressInjection) Revert(ctx context.Context, env *Env) (string, error) {
	c, err := s.Cluster.client(ctx, env)
	if err != nil {
		return "", err
	}
	var notes []string
	var errs []error
	for _, p := range s.Pods {
		note, err := s.stop(ctx, c, p)
		if err != nil {
			errs = append(errs, fmt.Errorf("pod %s/%s: %w", s.Namespace, p.Name, err))
			continue
		}
		notes = append(notes, p.Name+": "+note)
	}
	if len(errs) > 0 {
		return "", errors.Join(errs...)
	}
	return strings.Join(notes, "; "), nil
}

// stressStopWait bounds the wait for a stopped stressor's container to end.
const stressStopWait = 30 * time.Second

// stop ends the stressor in one pod: `faultline stress stop` exec'd in the
// ephemeral container, then a wait for the container to have ended.
func (s *podStressInjection) stop(ctx context.Context, c *kube.Client, p stressPod) (string, error) {
	pod, st, err := s.ephemeralState(ctx, c, p)
	switch {
	case err != nil:
		return "", err
	case pod == nil:
		return "the pod is gone, the stressor with it", nil
	case st == nil:
		return "no stressor was started", nil
	case st.Terminated != nil:
		return fmt.Sprintf("the stressor had ended (status %d at %s)", st.Terminated.ExitCode, st.Terminated.FinishedAt.UTC().Format(time.TimeOnly)), nil
	case st.Waiting != nil:
		return fmt.Sprintf("warning: the stressor never started (%s); if it ever does, it stops after %v by itself", st.Waiting.Reason, s.Limit), nil
	}
	out, execErr := execIn(ctx, c, s.Namespace, p.Name, s.Container, []string{"/faultline", "stress", "stop"})
	wctx, cancel := context.WithTimeout(ctx, stressStopWait)
	defer cancel()
	for {
		_, st, err := s.ephemeralState(wctx, c, p)
		if err == nil && (st == nil || st.Terminated != nil) {
			return "stressor stopped", nil
		}
		select {
		case <-wctx.Done():
			return "", fmt.Errorf("the stressor still runs after stress stop (%v: %s); it stops by itself %v after it started", execErr, strings.TrimSpace(out), s.Limit)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// execIn runs cmd in a container of a pod (pods/exec) and returns its
// output.
func execIn(ctx context.Context, c *kube.Client, ns, pod, container string, cmd []string) (string, error) {
	req := c.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: cmd, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ws, err := remotecommand.NewWebSocketExecutor(c.REST, "GET", req.URL().String())
	if err != nil {
		return "", err
	}
	spdy, err := remotecommand.NewSPDYExecutor(c.REST, "POST", req.URL())
	if err != nil {
		return "", err
	}
	exec, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &out})
	return out.String(), err
}
