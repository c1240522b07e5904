package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/faultline-dev/faultline/internal/kube"
)

func init() {
	registerKind(kind{
		name:         "pod_failure",
		group:        GroupPod,
		summary:      "make pods' containers unavailable without deleting the pods: their images become pause_image in place; revert restores the images they had",
		newFault:     func() Fault { return new(podFailureFault) },
		newInjection: func() Injection { return new(podFailureInjection) },
	})
}

// DefaultPauseImage is the image pod_failure runs in place of the
// containers' own: the Kubernetes pause container, which does nothing.
const DefaultPauseImage = "registry.k8s.io/pause:3.10"

// podFailureFault swaps the images of pods' containers for a pause image,
// as Chaos Mesh's PodChaos pod-failure does: the kubelet restarts each
// container with an image that serves nothing, so the pod stays (same
// name, same IP, same node) but its containers are gone; a readiness
// probe then fails and takes the pod out of its Services.
type podFailureFault struct {
	Target     podTarget `yaml:",inline"`
	PauseImage string    `yaml:"pause_image,omitempty" default:"registry.k8s.io/pause:3.10" doc:"the image the containers run during the fault; the node must have it or be able to pull it"`
	Containers []string  `yaml:"containers,omitempty" flag:"container" doc:"the names of the containers to fail (default every container of the pods; init and ephemeral containers never)"`
	Wait       readyWait `yaml:",inline"`
}

var _ Fault = (*podFailureFault)(nil)

func (f *podFailureFault) Kind() string { return "pod_failure" }

func (f *podFailureFault) Validate() []error {
	errs := f.Target.validate()
	if strings.ContainsAny(f.PauseImage, " \t\n") {
		errs = append(errs, fieldErrorf("pause_image", "pause_image %q: not an image reference", f.PauseImage))
	}
	if slices.Contains(f.Containers, "") {
		errs = append(errs, fieldErrorf("containers", "containers: empty container name"))
	}
	return append(errs, f.Wait.validate()...)
}

func (f *podFailureFault) pauseImage() string {
	if f.PauseImage == "" {
		return DefaultPauseImage
	}
	return f.PauseImage
}

func (f *podFailureFault) Describe() string {
	return fmt.Sprintf("pod_failure (images -> %s) %s", f.pauseImage(), f.Target.describe())
}

func (f *podFailureFault) Resolve(ctx context.Context, env *Env) (Injection, error) {
	p, err := f.Target.pick(ctx, env)
	if err != nil {
		return nil, err
	}
	inj := &podFailureInjection{Cluster: p.Cluster, Selection: p.How, PauseImage: f.pauseImage(), ReadyTimeout: f.Wait.timeout()}
	for i := range p.Pods {
		fp, err := f.failedPod(&p.Pods[i])
		if err != nil {
			return nil, err
		}
		inj.Pods = append(inj.Pods, fp)
	}
	if inj.Whole, err = wholeWorkloads(ctx, p.Client, p.Pods); err != nil {
		return nil, err
	}
	if err := inj.setImages(ctx, p.Client, dryRun); err != nil {
		return nil, err
	}
	return inj, nil
}

// failedPod records the containers of pod the fault swaps, with the
// images they have: what revert puts back.
func (f *podFailureFault) failedPod(pod *corev1.Pod) (failedPod, error) {
	fp := failedPod{Pod: podObject(pod)}
	for i, c := range pod.Spec.Containers {
		if len(f.Containers) == 0 || slices.Contains(f.Containers, c.Name) {
			fp.Containers = append(fp.Containers, swappedContainer{Index: i, Name: c.Name, Image: c.Image})
		}
	}
	for _, name := range f.Containers {
		if !slices.ContainsFunc(fp.Containers, func(s swappedContainer) bool { return s.Name == name }) {
			return fp, fmt.Errorf("pod %s has no container %q", pod.Name, name)
		}
	}
	return fp, nil
}

// swappedContainer is one container whose image pod_failure swaps: where
// it is in the pod's spec, and its own image.
type swappedContainer struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
	Image string `json:"image"`
}

// failedPod is one pod pod_failure acts on.
type failedPod struct {
	Pod        kubeObject         `json:"pod"`
	Containers []swappedContainer `json:"containers"`
}

// podFailureInjection sets the containers' images to PauseImage; revert
// sets back the images the ledger recorded.
type podFailureInjection struct {
	Cluster      kubeCluster   `json:"cluster"`
	Selection    string        `json:"selection"`
	PauseImage   string        `json:"pause_image"`
	ReadyTimeout time.Duration `json:"ready_timeout"`
	Pods         []failedPod   `json:"pods"`
	Whole        []string      `json:"whole,omitempty"` // workloads that lose every pod
}

var _ Injection = (*podFailureInjection)(nil)

func (p *podFailureInjection) Describe() string {
	var names []string
	for _, fp := range p.Pods {
		var cs []string
		for _, c := range fp.Containers {
			cs = append(cs, c.Name)
		}
		names = append(names, fmt.Sprintf("%s (%s)", fp.Pod.Name, strings.Join(cs, ", ")))
	}
	return fmt.Sprintf("pod_failure (images -> %s) pod(s) %s (%s) on the Kubernetes API %s%s",
		p.PauseImage, strings.Join(names, ", "), p.Selection, p.Cluster.Server, everyPodNote(p.Whole))
}

// imagePatch is a JSON patch that sets the containers' images on the pod
// with that UID only, and only where the containers are still the ones
// recorded: a pod made since under the same name is left alone.
func imagePatch(fp failedPod, image func(swappedContainer) string) ([]byte, error) {
	type op struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value string `json:"value"`
	}
	ops := []op{{"test", "/metadata/uid", fp.Pod.UID}}
	for _, c := range fp.Containers {
		ops = append(ops,
			op{"test", fmt.Sprintf("/spec/containers/%d/name", c.Index), c.Name},
			op{"replace", fmt.Sprintf("/spec/containers/%d/image", c.Index), image(c)})
	}
	return json.Marshal(ops)
}

func (p *podFailureInjection) Inject(ctx context.Context, env *Env) error {
	c, err := p.Cluster.client(ctx, env)
	if err != nil {
		return err
	}
	return p.setImages(ctx, c, nil)
}

// setImages sets the pause image; with dry set, the API only checks it may.
func (p *podFailureInjection) setImages(ctx context.Context, c *kube.Client, dry []string) error {
	for _, fp := range p.Pods {
		patch, err := imagePatch(fp, func(swappedContainer) string { return p.PauseImage })
		if err != nil {
			return err
		}
		_, err = c.CoreV1().Pods(fp.Pod.Namespace).Patch(ctx, fp.Pod.Name, types.JSONPatchType, patch, metav1.PatchOptions{DryRun: dry})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("set the images of pod %s: %w", fp.Pod.Name, err)
		}
	}
	return nil
}

func (p *podFailureInjection) Revert(ctx context.Context, env *Env) (string, error) {
	c, err := p.Cluster.client(ctx, env)
	if err != nil {
		return "", err
	}
	var notes []string
	var errs []error
	var restored []kubeObject
	swapped := map[string]restoredPod{}
	for _, fp := range p.Pods {
		note, rp, err := restoreImages(ctx, c, fp)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		notes = append(notes, note)
		if rp != nil {
			restored = append(restored, fp.Pod)
			swapped[fp.Pod.Name] = *rp
		}
	}
	if len(errs) > 0 {
		return "", errors.Join(errs...)
	}
	timeout := p.ReadyTimeout
	if timeout <= 0 {
		timeout = DefaultReadyTimeout
	}
	ready, err := waitUntil(ctx, restored, timeout, func(ctx context.Context, w kubeObject) (bool, string, error) {
		return swapped[w.Name].back(ctx, c)
	})
	if err != nil {
		return "", fmt.Errorf("%s, but: %w", strings.Join(notes, "; "), err)
	}
	if ready != "" {
		notes = append(notes, ready)
	}
	return strings.Join(notes, "; "), nil
}

// restoredPod is a pod whose images were set back: its containers, and
// their restart counts just before, to tell a container that runs its own
// image again from the pause container still running.
type restoredPod struct {
	failedPod
	restarts map[string]int32
	// generation is the pod's once its images were set back: the kubelet
	// has acted on them when the pod's status has observed it (kubelets
	// that do not report it leave 0).
	generation int64
}

// restoreImages sets the pod's images back to those recorded. A pod that
// is gone, or was made again under its name, has its template's images:
// there is nothing to restore, nor to wait for (nil).
func restoreImages(ctx context.Context, c *kube.Client, fp failedPod) (string, *restoredPod, error) {
	pod, err := c.CoreV1().Pods(fp.Pod.Namespace).Get(ctx, fp.Pod.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return "pod " + fp.Pod.Name + " is gone", nil, nil
	case err != nil:
		return "", nil, fmt.Errorf("restore the images of pod %s: %w", fp.Pod.Name, err)
	case string(pod.UID) != fp.Pod.UID:
		return "pod " + fp.Pod.Name + " was made again since (with its template's images)", nil, nil
	}
	rp := &restoredPod{failedPod: fp, restarts: map[string]int32{}}
	for _, cs := range pod.Status.ContainerStatuses {
		rp.restarts[cs.Name] = cs.RestartCount
	}
	patch, err := imagePatch(fp, func(s swappedContainer) string { return s.Image })
	if err != nil {
		return "", nil, err
	}
	patched, err := c.CoreV1().Pods(fp.Pod.Namespace).Patch(ctx, fp.Pod.Name, types.JSONPatchType, patch, metav1.PatchOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return "pod " + fp.Pod.Name + " is gone", nil, nil
	case err != nil:
		return "", nil, fmt.Errorf("restore the images of pod %s: %w", fp.Pod.Name, err)
	}
	rp.generation = patched.Generation
	return "pod " + fp.Pod.Name + " images restored", rp, nil
}

// back reports whether every restored container runs its own image again
// and the pod is ready. A container runs its own image again when its
// status shows that image, or when it restarted since the images were set
// back (registries spell image names in more than one way).
func (r restoredPod) back(ctx context.Context, c *kube.Client) (bool, string, error) {
	pod, err := c.CoreV1().Pods(r.Pod.Namespace).Get(ctx, r.Pod.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) || err == nil && string(pod.UID) != r.Pod.UID:
		return true, "is gone", nil
	case err != nil:
		return false, "", err
	}
	// Until the kubelet has seen the restored images, the status may show
	// the container as it was before the fault, ready, while the kubelet
	// is about to replace it.
	if seen := pod.Status.ObservedGeneration; seen != 0 && seen < r.generation {
		return false, fmt.Sprintf("not back: the kubelet has not seen the restored images yet (generation %d of %d)", seen, r.generation), nil
	}
	var waiting []string
	for _, sc := range r.Containers {
		i := slices.IndexFunc(pod.Status.ContainerStatuses, func(cs corev1.ContainerStatus) bool { return cs.Name == sc.Name })
		if i < 0 {
			waiting = append(waiting, sc.Name+" has no status")
			continue
		}
		cs := pod.Status.ContainerStatuses[i]
		own := sameImage(cs.Image, sc.Image) || cs.RestartCount > r.restarts[sc.Name]
		switch {
		case cs.State.Waiting != nil:
			waiting = append(waiting, sc.Name+" "+cs.State.Waiting.Reason)
		case !own:
			waiting = append(waiting, sc.Name+" still runs "+cs.Image)
		case !cs.Ready:
			waiting = append(waiting, sc.Name+" not ready")
		}
	}
	if len(waiting) == 0 && podReady(pod) {
		return true, "ready", nil
	}
	return false, "not back: " + strings.Join(waiting, ", "), nil
}

// sameImage compares two image references as a container runtime reports
// them: docker.io/library/ and :latest are implied.
func sameImage(a, b string) bool { return fullImage(a) == fullImage(b) }

func fullImage(ref string) string {
	name, digest, _ := strings.Cut(ref, "@")
	first, _, found := strings.Cut(name, "/")
	switch {
	case !found:
		name = "docker.io/library/" + name
	case !strings.ContainsAny(first, ".:") && first != "localhost":
		name = "docker.io/" + name
	}
	if digest != "" {
		return name + "@" + digest
	}
	if i := strings.LastIndex(name, ":"); i < strings.LastIndex(name, "/") || i < 0 {
		name += ":latest"
	}
	return name
}
