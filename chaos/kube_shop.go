package chaos

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/faultline-dev/faultline/chaos/docker"
	"github.com/faultline-dev/faultline/internal/kube"
)

// The kubernetes_shop "kind" is not a fault: it is how the experiment
// runner records, before deploying the bundled shop on Kubernetes, what it
// is about to create, so that `faultline chaos cleanup` removes the shop
// after a SIGKILL of `faultline run`. Its injection does nothing (the
// targets package deploys the shop); its revert deletes the Deployments
// and Services labelled as the shop of that run, and waits for their pods
// to go. It is hidden from Kinds; build it with NewKubeShop.
func init() {
	registerKind(kind{
		name:         "kubernetes_shop",
		group:        GroupPod,
		summary:      "record the bundled shop deployed on Kubernetes for a run; revert removes it",
		hidden:       true,
		newFault:     func() Fault { return new(kubeShopFault) },
		newInjection: func() Injection { return new(kubeShopInjection) },
	})
}

// The labels of the shop a run deploys (targets.StartKube), with
// LabelManagedBy and docker.LabelRun: the run's shop is what carries all
// three.
const (
	labelPartOf = "app.kubernetes.io/part-of"
	partOfShop  = "faultline-shop"
)

// NewKubeShop returns what records the shop of run runID in namespace when
// a Session injects it, before the shop is deployed; reverting it removes
// that shop.
func NewKubeShop(namespace, runID string) Fault {
	return &kubeShopFault{Namespace: namespace, RunID: runID}
}

type kubeShopFault struct {
	Namespace string `yaml:"namespace,omitempty" doc:"the namespace the shop is deployed in"`
	RunID     string `yaml:"run_id,omitempty" doc:"the run whose shop it is (its faultline.run label)"`
}

var _ Fault = (*kubeShopFault)(nil)

func (f *kubeShopFault) Kind() string { return "kubernetes_shop" }

func (f *kubeShopFault) Validate() []error {
	var errs []error
	if f.Namespace == "" {
		errs = append(errs, fieldErrorf("namespace", "namespace is required"))
	}
	if f.RunID == "" {
		errs = append(errs, fieldErrorf("run_id", "run_id is required"))
	}
	return errs
}

func (f *kubeShopFault) Describe() string {
	return fmt.Sprintf("the bundled shop of run %s in namespace %s", f.RunID, f.Namespace)
}

func (f *kubeShopFault) Resolve(ctx context.Context, env *Env) (Injection, error) {
	_, cluster, err := env.kubeClient(ctx)
	if err != nil {
		return nil, err
	}
	return &kubeShopInjection{Cluster: cluster, Namespace: f.Namespace, RunID: f.RunID}, nil
}

// kubeShopInjection is the shop of one run in one namespace.
type kubeShopInjection struct {
	Cluster   kubeCluster `json:"cluster"`
	Namespace string      `json:"namespace"`
	RunID     string      `json:"run_id"`
}

var _ Injection = (*kubeShopInjection)(nil)

func (s *kubeShopInjection) Describe() string {
	return fmt.Sprintf("the bundled shop of run %s in namespace %s (Deployments and Services labelled %s)", s.RunID, s.Namespace, s.selector())
}

func (s *kubeShopInjection) selector() string {
	return labels.SelectorFromSet(map[string]string{LabelManagedBy: "faultline", labelPartOf: partOfShop, docker.LabelRun: s.RunID}).String()
}

// Inject does nothing: the shop is deployed by its owner once the ledger
// knows how to remove it.
func (s *kubeShopInjection) Inject(context.Context, *Env) error { return nil }

// shopGoneTimeout bounds the wait for the shop's pods to go.
const shopGoneTimeout = 90 * time.Second

// Revert deletes the run's Deployments and Services and waits until their
// pods are gone; a shop already gone is fine.
func (s *kubeShopInjection) Revert(ctx context.Context, env *Env) (string, error) {
	c, err := s.Cluster.client(ctx, env)
	if err != nil {
		return "", err
	}
	removed, err := s.remove(ctx, c)
	if err != nil {
		return "", err
	}
	if len(removed) == 0 {
		return fmt.Sprintf("the shop of run %s in %s was already gone", s.RunID, s.Namespace), nil
	}
	return fmt.Sprintf("removed the shop of run %s from %s: %s", s.RunID, s.Namespace, strings.Join(removed, ", ")), nil
}

func (s *kubeShopInjection) remove(ctx context.Context, c *kube.Client) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, shopGoneTimeout)
	defer cancel()
	sel := metav1.ListOptions{LabelSelector: s.selector()}
	var removed []string
	deps, err := c.AppsV1().Deployments(s.Namespace).List(ctx, sel)
	if err != nil {
		return nil, kubeError("list the shop's deployments in "+s.Namespace, err)
	}
	bg := metav1.DeletePropagationBackground
	for _, d := range deps.Items {
		err := c.AppsV1().Deployments(s.Namespace).Delete(ctx, d.Name, metav1.DeleteOptions{PropagationPolicy: &bg})
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, kubeError("delete deployment "+s.Namespace+"/"+d.Name, err)
		}
		removed = append(removed, "deployment/"+d.Name)
	}
	svcs, err := c.CoreV1().Services(s.Namespace).List(ctx, sel)
	if err != nil {
		return nil, kubeError("list the shop's services in "+s.Namespace, err)
	}
	for _, v := range svcs.Items {
		err := c.CoreV1().Services(s.Namespace).Delete(ctx, v.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, kubeError("delete service "+s.Namespace+"/"+v.Name, err)
		}
		removed = append(removed, "service/"+v.Name)
	}
	for {
		pods, err := c.CoreV1().Pods(s.Namespace).List(ctx, sel)
		if err == nil && len(pods.Items) == 0 {
			return removed, nil
		}
		if err == nil {
			err = fmt.Errorf("%d pod(s) still there", len(pods.Items))
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(fmt.Errorf("the shop's pods in %s did not go within %v", s.Namespace, shopGoneTimeout), err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
