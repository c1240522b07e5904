package chaos

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"sigs.k8s.io/yaml"

	"github.com/faultline-dev/faultline/internal/kube"
)

// The generators "kind" is not a fault: it is how a distributed load puts
// its workers on Kubernetes (an Indexed Job of worker pods, the Secret
// holding the run's token and a headless Service), through a Session, so
// that the ledger records them before they exist and a revert (or `chaos
// cleanup` after a SIGKILL of the coordinator) deletes them. It is hidden
// from Kinds, and NewFault rejects it; build it with NewGenerators.
func init() {
	registerKind(kind{
		name:         "generators",
		group:        GroupPod,
		summary:      "create an Indexed Job of load generator workers; revert deletes it",
		hidden:       true,
		newFault:     func() Fault { return new(generatorsFault) },
		newInjection: func() Injection { return new(generatorsInjection) },
	})
}

// Labels and names of the generator objects.
const (
	LabelRun              = "faultline.run"
	LabelPartOf           = "app.kubernetes.io/part-of"
	PartOfGenerators      = "faultline-generators"
	GeneratorPort         = 7070
	generatorTokenKey     = "token"
	completionIndexAnnot  = "batch.kubernetes.io/job-completion-index"
	generatorTokenEnvName = "FAULTLINE_WORKER_TOKEN" // internal/distrib.TokenEnv
)

// GeneratorJob is N generator workers on Kubernetes for one run.
type GeneratorJob struct {
	// Namespace is where they go; empty means the client's (kubeconfig
	// context, else "default").
	Namespace string
	// RunID names the objects (faultline-gen-RUNID) and labels them
	// (faultline.run=RUNID).
	RunID string
	// Image is faultline's image (its entrypoint the faultline binary).
	Image string
	// Count is the number of workers: the Job's completions, each pod's
	// completion index its segment.
	Count int
	// Token is the run's token, put in the Secret; it is never written to
	// the ledger.
	Token string
	// Labels are added to every object and pod (tests add faultline.test=1).
	Labels map[string]string
	// Deadline, when positive, is the Job's activeDeadlineSeconds (rounded
	// up to a second): Kubernetes ends the worker pods then, so a run whose
	// coordinator was SIGKILLed and never cleaned up does not leave them
	// running. Zero: no deadline.
	Deadline time.Duration
}

// Name is the name of the Job, its Secret and its Service.
func (j GeneratorJob) Name() string { return "faultline-gen-" + j.RunID }

func (j GeneratorJob) validate() error {
	var errs []error
	if j.RunID == "" || len(j.Name()) > 52 {
		// A Job's name must leave room for the pods' suffixes.
		errs = append(errs, fmt.Errorf("run id %q: want 1 to 38 characters", j.RunID))
	}
	if j.Image == "" {
		errs = append(errs, errors.New("image is required"))
	}
	if j.Count < 1 {
		errs = append(errs, fmt.Errorf("count %d: want at least 1", j.Count))
	}
	if j.Token == "" {
		errs = append(errs, errors.New("token is required"))
	}
	if j.Deadline < 0 {
		errs = append(errs, fmt.Errorf("deadline %s: must not be negative", j.Deadline))
	}
	return errors.Join(errs...)
}

func (j GeneratorJob) labels() map[string]string {
	lbl := maps.Clone(j.Labels)
	if lbl == nil {
		lbl = map[string]string{}
	}
	maps.Copy(lbl, map[string]string{LabelManagedBy: "faultline", LabelPartOf: PartOfGenerators, LabelRun: j.RunID})
	return lbl
}

// Objects are what the Job needs, in the order they are created: the
// Secret with the token, the headless Service (so a coordinator inside the
// cluster can also reach pod i as NAME-i.NAME), and the Indexed Job.
func (j GeneratorJob) Objects() ([]runtime.Object, error) {
	if err := j.validate(); err != nil {
		return nil, err
	}
	lbl, name := j.labels(), j.Name()
	meta := metav1.ObjectMeta{Name: name, Namespace: j.Namespace, Labels: lbl}
	secret := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: meta, Type: corev1.SecretTypeOpaque,
		StringData: map[string]string{generatorTokenKey: j.Token},
	}
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: meta,
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{LabelRun: j.RunID, LabelPartOf: PartOfGenerators},
			Ports:                    []corev1.ServicePort{{Name: "worker", Port: GeneratorPort, TargetPort: intstr.FromInt32(GeneratorPort)}},
			PublishNotReadyAddresses: true,
		},
	}
	n, zero := int32(j.Count), int32(0)
	indexed := batchv1.IndexedCompletion
	job := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: meta,
		Spec: batchv1.JobSpec{
			Completions: &n, Parallelism: &n, CompletionMode: &indexed,
			// A worker that fails is not replaced: a new one would not
			// rejoin the run, whose coordinator counts its share as lost.
			// The limit is per index, so that one worker's end (its pod
			// deleted or evicted) fails only its index: with a Job-wide
			// backoffLimit of 0 the Job itself failed, and its controller
			// terminated every other worker of the run with it.
			BackoffLimitPerIndex: &zero, MaxFailedIndexes: &n,
			ActiveDeadlineSeconds: j.deadlineSeconds(),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbl},
				Spec:       j.podSpec(),
			},
		},
	}
	return []runtime.Object{secret, svc, job}, nil
}

// deadlineSeconds is Deadline in whole seconds, rounded up; nil for none.
func (j GeneratorJob) deadlineSeconds() *int64 {
	if j.Deadline <= 0 {
		return nil
	}
	s := int64((j.Deadline + time.Second - 1) / time.Second)
	return &s
}

// podSpec runs `faultline worker` as an unprivileged user on a read-only
// root, named after its pod, its token from the Secret, ready once it
// listens.
func (j GeneratorJob) podSpec() corev1.PodSpec {
	user, no, yes := int64(65534), false, true
	grace := int64(5)
	return corev1.PodSpec{
		RestartPolicy:                 corev1.RestartPolicyNever,
		Subdomain:                     j.Name(),
		TerminationGracePeriodSeconds: &grace,
		AutomountServiceAccountToken:  &no,
		EnableServiceLinks:            &no,
		Containers: []corev1.Container{{
			Name:            "worker",
			Image:           j.Image,
			ImagePullPolicy: corev1.PullIfNotPresent,
			Args:            []string{"worker", "--listen", ":" + strconv.Itoa(GeneratorPort), "--name", "$(POD_NAME)"},
			Env: []corev1.EnvVar{
				{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
				{Name: generatorTokenEnvName, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: j.Name()}, Key: generatorTokenKey}}},
			},
			Ports: []corev1.ContainerPort{{Name: "worker", ContainerPort: GeneratorPort, Protocol: corev1.ProtocolTCP}},
			ReadinessProbe: &corev1.Probe{
				ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("worker")}},
				PeriodSeconds: 1, TimeoutSeconds: 1, FailureThreshold: 3, SuccessThreshold: 1,
			},
			SecurityContext: &corev1.SecurityContext{
				RunAsUser: &user, RunAsNonRoot: &yes, ReadOnlyRootFilesystem: &yes,
				AllowPrivilegeEscalation: &no,
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
		}},
	}
}

// NewGenerators returns what creates job's objects when a Session injects
// it; reverting it deletes them and waits for the pods to go. See
// GeneratorPods for the pods once created.
func NewGenerators(job GeneratorJob) (Fault, error) {
	if err := job.validate(); err != nil {
		return nil, fmt.Errorf("generators: %w", err)
	}
	return &generatorsFault{job: job}, nil
}

type generatorsFault struct{ job GeneratorJob }

var _ Fault = (*generatorsFault)(nil)

func (f *generatorsFault) Kind() string { return "generators" }

func (f *generatorsFault) Validate() []error {
	if err := f.job.validate(); err != nil {
		return []error{err}
	}
	return nil
}

func (f *generatorsFault) Describe() string {
	return fmt.Sprintf("generators: Indexed Job %s of %d worker pods", f.job.Name(), f.job.Count)
}

func (f *generatorsFault) Resolve(ctx context.Context, env *Env) (Injection, error) {
	c, cluster, err := env.kubeClient(ctx)
	if err != nil {
		return nil, err
	}
	job := f.job
	if job.Namespace == "" {
		job.Namespace = c.Namespace
	}
	return &generatorsInjection{Cluster: cluster, Namespace: job.Namespace, RunID: job.RunID, Count: job.Count, job: job}, nil
}

// generatorsInjection creates the generator objects and deletes them on
// revert. The ledger keeps what finds them again (cluster, namespace, run
// id), never the token.
type generatorsInjection struct {
	Cluster   kubeCluster `json:"cluster"`
	Namespace string      `json:"namespace"`
	RunID     string      `json:"run_id"`
	Count     int         `json:"count"`
	job       GeneratorJob
}

var _ Injection = (*generatorsInjection)(nil)

func (g *generatorsInjection) Describe() string {
	return fmt.Sprintf("generators: Indexed Job %s/faultline-gen-%s of %d worker pods", g.Namespace, g.RunID, g.Count)
}

func (g *generatorsInjection) Inject(ctx context.Context, env *Env) error {
	c, err := g.Cluster.client(ctx, env)
	if err != nil {
		return err
	}
	objs, err := g.job.Objects()
	if err != nil {
		return err
	}
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Secret:
			_, err = c.CoreV1().Secrets(g.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *corev1.Service:
			_, err = c.CoreV1().Services(g.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *batchv1.Job:
			_, err = c.BatchV1().Jobs(g.Namespace).Create(ctx, o, metav1.CreateOptions{})
		}
		if err != nil {
			return fmt.Errorf("create %T in %s: %w", o, g.Namespace, err)
		}
	}
	return nil
}

func (g *generatorsInjection) selector() metav1.ListOptions {
	return metav1.ListOptions{LabelSelector: labels.SelectorFromSet(map[string]string{LabelRun: g.RunID, LabelPartOf: PartOfGenerators}).String()}
}

// Revert deletes the Job (its pods with it), the Service and the Secret
// of the run, whatever is left of them, and waits up to a minute for the
// pods to go.
func (g *generatorsInjection) Revert(ctx context.Context, env *Env) (string, error) {
	c, err := g.Cluster.client(ctx, env)
	if err != nil {
		return "", err
	}
	name, ns := "faultline-gen-"+g.RunID, g.Namespace
	bg := metav1.DeletePropagationBackground
	var errs []error
	keep := func(err error) {
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	keep(c.BatchV1().Jobs(ns).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg}))
	keep(c.CoreV1().Services(ns).Delete(ctx, name, metav1.DeleteOptions{}))
	keep(c.CoreV1().Secrets(ns).Delete(ctx, name, metav1.DeleteOptions{}))
	zero := int64(0)
	keep(c.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, g.selector()))
	if len(errs) > 0 {
		return "", fmt.Errorf("delete generators %s/%s: %w", ns, name, errors.Join(errs...))
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		pods, err := c.CoreV1().Pods(ns).List(wctx, g.selector())
		if err == nil && len(pods.Items) == 0 {
			return fmt.Sprintf("deleted job, service and secret %s/%s and its pods", ns, name), nil
		}
		select {
		case <-wctx.Done():
			return "", fmt.Errorf("generators %s/%s: pods still there after a minute", ns, name)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// GeneratorPod is one worker pod, ready: Index is its completion index
// (its segment), IP its pod IP.
type GeneratorPod struct {
	Name  string
	Index int
	IP    string
}

// GeneratorPods waits, within timeout, until every pod of the generators
// entry e is running and ready, and returns them by completion index. A pod
// that fails, or whose image cannot be had, ends the wait with its reason.
func GeneratorPods(ctx context.Context, env *Env, e *Entry, timeout time.Duration) ([]GeneratorPod, error) {
	g, ok := e.Injection.(*generatorsInjection)
	if !ok {
		return nil, fmt.Errorf("entry %s is not generators", e.ID)
	}
	c, err := g.Cluster.client(ctx, env)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		pods, trouble, err := g.readyPods(ctx, c)
		switch {
		case err != nil:
			return nil, err
		case trouble != "":
			return nil, fmt.Errorf("generators %s/faultline-gen-%s: %s", g.Namespace, g.RunID, trouble)
		case pods != nil:
			return pods, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("generators %s/faultline-gen-%s: not all %d pods ready within %s", g.Namespace, g.RunID, g.Count, timeout)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// readyPods is every pod by index once all are ready (else nil), or what
// keeps one from ever getting there.
func (g *generatorsInjection) readyPods(ctx context.Context, c *kube.Client) ([]GeneratorPod, string, error) {
	list, err := c.CoreV1().Pods(g.Namespace).List(ctx, g.selector())
	if err != nil {
		return nil, "", fmt.Errorf("list generator pods: %w", err)
	}
	out := make([]GeneratorPod, g.Count)
	ready := 0
	for _, p := range list.Items {
		if t := podStuck(&p); t != "" {
			return nil, "pod " + p.Name + ": " + t, nil
		}
		i, err := strconv.Atoi(p.Annotations[completionIndexAnnot])
		if err != nil || i < 0 || i >= g.Count || p.DeletionTimestamp != nil || !podReady(&p) || p.Status.PodIP == "" {
			continue
		}
		if out[i].Name == "" {
			ready++
		}
		out[i] = GeneratorPod{Name: p.Name, Index: i, IP: p.Status.PodIP}
	}
	if ready < g.Count {
		return nil, "", nil
	}
	return out, "", nil
}

// Manifests are job's objects as YAML documents, for users who apply
// them through their own pipeline: the same objects --on kubernetes
// creates.
func (j GeneratorJob) Manifests() ([]byte, error) {
	objs, err := j.Objects()
	if err != nil {
		return nil, err
	}
	var out []byte
	for i, o := range objs {
		b, err := yaml.Marshal(o)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			out = append(out, "---\n"...)
		}
		out = append(out, b...)
	}
	return out, nil
}
