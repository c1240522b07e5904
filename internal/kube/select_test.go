package kube

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSelectorValidate(t *testing.T) {
	ok := Selector{Namespace: "shop", Labels: map[string]string{"app": "orders"}}
	for _, tc := range []struct {
		s    Selector
		want string
	}{
		{ok, ""},
		{Selector{Labels: ok.Labels}, "namespace: required"},
		{Selector{Namespace: "shop"}, "labels: a label selector or names is required"},
		{Selector{Namespace: "shop", Labels: map[string]string{"a b": "c"}}, "labels:"},
		{Selector{Namespace: "shop", Names: []string{"p"}, Mode: "some"}, `mode: "some"`},
		{Selector{Namespace: "shop", Names: []string{"p"}, Mode: "fixed", Value: "0"}, "value: mode fixed"},
		{Selector{Namespace: "shop", Names: []string{"p"}, Mode: "percent", Value: "101"}, "value: mode percent"},
		{Selector{Namespace: "shop", Names: []string{"p"}, Mode: "percent", Value: "50%"}, ""},
		{Selector{Namespace: "shop", Names: []string{"p"}, Mode: "all", Value: "2"}, "value: only for"},
	} {
		err := tc.s.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: got %v, want %q", tc.s, err, tc.want)
		}
	}
}

func pods(n int) []corev1.Pod {
	out := make([]corev1.Pod, n)
	for i := range out {
		out[i].ObjectMeta = metav1.ObjectMeta{Name: fmt.Sprintf("p%02d", i)}
	}
	return out
}

func TestPick(t *testing.T) {
	for _, tc := range []struct {
		mode, value string
		n, want     int
	}{
		{"", "", 5, 1}, {"one", "", 5, 1}, {"all", "", 5, 5}, {"fixed", "3", 5, 3}, {"fixed", "9", 5, 5},
		{"percent", "50", 5, 2}, {"percent", "10", 5, 1}, {"percent", "100", 5, 5},
	} {
		got := pick(pods(tc.n), Selector{Mode: tc.mode, Value: tc.value, Seed: 7})
		if len(got) != tc.want {
			t.Errorf("%s %s of %d: picked %d, want %d", tc.mode, tc.value, tc.n, len(got), tc.want)
		}
		if !slices.IsSortedFunc(got, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) }) {
			t.Errorf("picked pods not in name order: %v", got)
		}
	}
	// The same seed picks the same pod; over seeds, every pod is picked sometime.
	seen := map[string]bool{}
	for seed := uint64(1); seed <= 200; seed++ {
		a := pick(pods(4), Selector{Seed: seed})[0].Name
		if b := pick(pods(4), Selector{Seed: seed})[0].Name; a != b {
			t.Fatalf("seed %d picked %s then %s", seed, a, b)
		}
		seen[a] = true
	}
	if len(seen) != 4 {
		t.Errorf("200 seeds picked only %v of 4 pods", seen)
	}
}
