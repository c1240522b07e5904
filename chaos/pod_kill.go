package chaos

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/faultline-dev/faultline/internal/kube"
)

func init() {
	registerKind(kind{
		name:         "pod_kill",
		group:        GroupPod,
		summary:      "delete pods (grace_period, default 0); their controller recreates them; revert waits until their workloads are ready again",
		newFault:     func() Fault { return new(podKillFault) },
		newInjection: func() Injection { return new(podKillInjection) },
	})
}

// podKillFault deletes pods, as a crashed node or an OOM kill would lose
// them; whatever controls them (a Deployment's ReplicaSet, a StatefulSet)
// makes new ones.
type podKillFault struct {
	Target      podTarget     `yaml:",inline"`
	GracePeriod time.Duration `yaml:"grace_period,omitempty" default:"0s" doc:"how long the pods get to stop after SIGTERM, in whole seconds, overriding their own terminationGracePeriodSeconds; 0 deletes them at once"`
	Wait        readyWait     `yaml:",inline"`
}

var _ Fault = (*podKillFault)(nil)

func (f *podKillFault) Kind() string { return "pod_kill" }

func (f *podKillFault) Validate() []error {
	errs := f.Target.validate()
	if f.GracePeriod < 0 {
		errs = append(errs, fieldErrorf("grace_period", "grace_period %s: must not be negative", f.GracePeriod))
	}
	return append(errs, f.Wait.validate()...)
}

func (f *podKillFault) Describe() string {
	return fmt.Sprintf("pod_kill (grace period %s) %s", f.GracePeriod, f.Target.describe())
}

// graceSeconds is the grace period as the API takes it: whole seconds,
// rounded up so that a grace period is never cut short.
func (f *podKillFault) graceSeconds() int64 {
	return int64(math.Ceil(f.GracePeriod.Seconds()))
}

func (f *podKillFault) Resolve(ctx context.Context, env *Env) (Injection, error) {
	p, err := f.Target.pick(ctx, env)
	if err != nil {
		return nil, err
	}
	inj := &podKillInjection{Cluster: p.Cluster, Selection: p.How, GraceSeconds: f.graceSeconds(), ReadyTimeout: f.Wait.timeout()}
	seen := map[kubeObject]bool{}
	for i := range p.Pods {
		pod := &p.Pods[i]
		inj.Pods = append(inj.Pods, podObject(pod))
		w, err := workloadOf(ctx, p.Client, pod)
		if err != nil {
			return nil, err
		}
		if w == nil {
			inj.Unowned = append(inj.Unowned, pod.Name)
		} else if !seen[*w] {
			seen[*w] = true
			inj.Workloads = append(inj.Workloads, *w)
		}
	}
	if inj.Whole, err = wholeWorkloads(ctx, p.Client, p.Pods); err != nil {
		return nil, err
	}
	if err := inj.deletePods(ctx, p.Client, dryRun); err != nil {
		return nil, err
	}
	return inj, nil
}

// podKillInjection deletes pods; its revert waits for the workloads that
// owned them to be ready again (there is nothing to undo: the controllers
// recreate the pods).
type podKillInjection struct {
	Cluster      kubeCluster   `json:"cluster"`
	Selection    string        `json:"selection"`
	GraceSeconds int64         `json:"grace_seconds"`
	ReadyTimeout time.Duration `json:"ready_timeout"`
	Pods         []kubeObject  `json:"pods"`
	Workloads    []kubeObject  `json:"workloads,omitempty"` // what owns the pods, waited for on revert
	Unowned      []string      `json:"unowned,omitempty"`   // pods no controller recreates
	Whole        []string      `json:"whole,omitempty"`     // workloads that lose every pod
}

var _ Injection = (*podKillInjection)(nil)

func (k *podKillInjection) Describe() string {
	names := make([]string, len(k.Pods))
	for i, p := range k.Pods {
		names[i] = p.Name
	}
	var owners []string
	for _, w := range k.Workloads {
		owners = append(owners, w.String())
	}
	s := fmt.Sprintf("pod_kill (grace period %ds) pod(s) %s (%s)", k.GraceSeconds, strings.Join(names, ", "), k.Selection)
	if len(owners) > 0 {
		s += " of " + strings.Join(owners, ", ")
	}
	if len(k.Unowned) > 0 {
		s += "; no controller recreates " + strings.Join(k.Unowned, ", ")
	}
	return s + " on the Kubernetes API " + k.Cluster.Server + everyPodNote(k.Whole)
}

func (k *podKillInjection) Inject(ctx context.Context, env *Env) error {
	c, err := k.Cluster.client(ctx, env)
	if err != nil {
		return err
	}
	return k.deletePods(ctx, c, nil)
}

// deletePods deletes the pods; with dry set, the API only checks it may.
func (k *podKillInjection) deletePods(ctx context.Context, c *kube.Client, dry []string) error {
	grace := k.GraceSeconds
	for _, p := range k.Pods {
		// The UID precondition spares a pod made since under the same
		// name (a StatefulSet's).
		uid := types.UID(p.UID)
		err := c.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
			DryRun:             dry,
			GracePeriodSeconds: &grace,
			Preconditions:      &metav1.Preconditions{UID: &uid},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("delete pod %s/%s: %w", p.Namespace, p.Name, err)
		}
	}
	return nil
}

// Revert waits for the workloads to be ready again: a kill cannot be
// undone, but the system is not back until its controllers made up for it.
func (k *podKillInjection) Revert(ctx context.Context, env *Env) (string, error) {
	var notes []string
	if len(k.Workloads) > 0 {
		c, err := k.Cluster.client(ctx, env)
		if err != nil {
			return "", err
		}
		timeout := k.ReadyTimeout
		if timeout <= 0 {
			timeout = DefaultReadyTimeout
		}
		note, err := waitReady(ctx, c, k.Workloads, timeout)
		if err != nil {
			return "", err
		}
		notes = append(notes, note)
	}
	if len(k.Unowned) > 0 {
		notes = append(notes, "not recreated (no controller): "+strings.Join(k.Unowned, ", "))
	}
	if len(notes) == 0 {
		return "", errors.New("pod_kill: nothing recorded")
	}
	return strings.Join(notes, "; "), nil
}
