package kube

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Modes of pod selection, as Chaos Mesh names them.
const (
	ModeOne     = "one"     // one pod, chosen by the seed
	ModeAll     = "all"     // every matching pod
	ModeFixed   = "fixed"   // Value pods (an integer), chosen by the seed
	ModePercent = "percent" // Value percent of the matching pods, rounded down, at least one
)

// Selector picks pods. Namespace and at least one of Labels or Names are required: faultline never
// acts on "every pod in the namespace" by accident.
type Selector struct {
	Namespace string            `yaml:"namespace" json:"namespace" doc:"namespace of the pods (required)"`
	Labels    map[string]string `yaml:"labels,omitempty" json:"labels,omitempty" doc:"label selector, every key=value must match"`
	Names     []string          `yaml:"names,omitempty" json:"names,omitempty" doc:"pod names (instead of or with labels)"`
	Mode      string            `yaml:"mode,omitempty" json:"mode,omitempty" doc:"one, all, fixed or percent (default one)"`
	Value     string            `yaml:"value,omitempty" json:"value,omitempty" doc:"pod count for fixed, percent for percent"`
	Seed      uint64            `yaml:"seed,omitempty" json:"seed,omitempty" doc:"seed of the random choice (default 1)"`
}

// Validate checks the selector without contacting the cluster; messages name the field.
func (s Selector) Validate() error {
	if s.Namespace == "" {
		return fmt.Errorf("namespace: required (faultline does not guess a namespace)")
	}
	if len(s.Labels) == 0 && len(s.Names) == 0 {
		return fmt.Errorf("labels: a label selector or names is required (faultline does not fault every pod of a namespace)")
	}
	if _, err := s.selector(); err != nil {
		return fmt.Errorf("labels: %w", err)
	}
	switch s.Mode {
	case "", ModeOne, ModeAll:
		if s.Value != "" {
			return fmt.Errorf("value: only for mode fixed or percent")
		}
	case ModeFixed:
		if n, err := strconv.Atoi(s.Value); err != nil || n < 1 {
			return fmt.Errorf("value: mode fixed needs a whole number of pods >= 1, got %q", s.Value)
		}
	case ModePercent:
		if p, err := strconv.Atoi(strings.TrimSuffix(s.Value, "%")); err != nil || p < 1 || p > 100 {
			return fmt.Errorf("value: mode percent needs 1..100, got %q", s.Value)
		}
	default:
		return fmt.Errorf("mode: %q is not one of one, all, fixed, percent", s.Mode)
	}
	return nil
}

func (s Selector) selector() (labels.Selector, error) {
	if len(s.Labels) == 0 {
		return labels.Everything(), nil
	}
	return labels.ValidatedSelectorFromSet(s.Labels)
}

// String is the selector as a plan line shows it: ns/app=x,tier=y or ns/name1,name2.
func (s Selector) String() string {
	var parts []string
	if len(s.Labels) > 0 {
		sel, _ := s.selector()
		parts = append(parts, sel.String())
	}
	if len(s.Names) > 0 {
		parts = append(parts, "names="+strings.Join(s.Names, ","))
	}
	mode := s.Mode
	if mode == "" {
		mode = ModeOne
	}
	if s.Value != "" {
		mode += " " + s.Value
	}
	return fmt.Sprintf("%s/%s (%s)", s.Namespace, strings.Join(parts, " "), mode)
}

// Selection is the outcome of Select: the pods picked and how many matched in all.
type Selection struct {
	Picked  []corev1.Pod
	Matched int
}

// All reports whether every matching pod was picked (a plan says so: the workload loses them all).
func (s Selection) All() bool { return len(s.Picked) == s.Matched }

// Names lists the picked pods' names.
func (s Selection) Names() []string {
	out := make([]string, len(s.Picked))
	for i, p := range s.Picked {
		out[i] = p.Name
	}
	return out
}

// Select lists the matching pods (not being deleted), sorted by name, and picks by mode and seed.
// A namespace that does not exist and a selector that matches nothing are errors.
func (c *Client) Select(ctx context.Context, s Selector) (Selection, error) {
	if err := s.Validate(); err != nil {
		return Selection{}, err
	}
	if _, err := c.CoreV1().Namespaces().Get(ctx, s.Namespace, metav1.GetOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return Selection{}, fmt.Errorf("namespace %q does not exist", s.Namespace)
		}
		return Selection{}, fmt.Errorf("namespace %q: %w", s.Namespace, err)
	}
	sel, _ := s.selector()
	list, err := c.CoreV1().Pods(s.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return Selection{}, fmt.Errorf("list pods in %s: %w", s.Namespace, err)
	}
	var pods []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if len(s.Names) > 0 && !slices.Contains(s.Names, p.Name) {
			continue
		}
		pods = append(pods, p)
	}
	if len(pods) == 0 {
		return Selection{}, fmt.Errorf("no pod matches %s", s)
	}
	slices.SortFunc(pods, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return Selection{Picked: pick(pods, s), Matched: len(pods)}, nil
}

func pick(pods []corev1.Pod, s Selector) []corev1.Pod {
	n := len(pods)
	switch s.Mode {
	case ModeAll:
		return pods
	case ModeFixed:
		k, _ := strconv.Atoi(s.Value)
		n = min(k, n)
	case ModePercent:
		p, _ := strconv.Atoi(strings.TrimSuffix(s.Value, "%"))
		n = max(1, n*p/100)
	default:
		n = 1
	}
	seed := s.Seed
	if seed == 0 {
		seed = 1
	}
	r := rand.New(rand.NewPCG(seed, 0x6661756c746c696e))
	idx := r.Perm(len(pods))[:n]
	slices.Sort(idx)
	out := make([]corev1.Pod, n)
	for i, j := range idx {
		out[i] = pods[j]
	}
	return out
}
