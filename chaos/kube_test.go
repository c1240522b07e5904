package chaos

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/internal/exitcode"
)

func TestPodTargetValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		target podTarget
		fields []string // the fields of the problems, in order; none: valid
	}{
		{"labels", podTarget{Namespace: "shop", Labels: map[string]string{"app": "web"}}, nil},
		{"names", podTarget{Namespace: "shop", Names: []string{"web-0"}}, nil},
		{"fixed", podTarget{Namespace: "shop", Names: []string{"a", "b"}, Selection: Selection{Mode: ModeFixed, Value: 2}}, nil},
		{"no namespace", podTarget{Labels: map[string]string{"app": "web"}}, []string{"namespace"}},
		{"no selector", podTarget{Namespace: "shop"}, []string{"labels"}},
		{"bad label", podTarget{Namespace: "shop", Labels: map[string]string{"app": "a b"}}, []string{"labels"}},
		{"bad mode and no selector", podTarget{Namespace: "shop", Selection: Selection{Mode: "most"}}, []string{"labels", "mode"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, err := range tc.target.validate() {
				var fe *FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("problem %v is not a FieldError", err)
				}
				if !strings.HasPrefix(fe.Error(), fe.Field+":") && fe.Field != "mode" && fe.Field != "value" {
					t.Errorf("problem %q does not name its field %s", fe, fe.Field)
				}
				got = append(got, fe.Field)
			}
			if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Errorf("problems on fields %v, want %v", got, tc.fields)
			}
		})
	}
}

// TestKubeClientErrors checks that a cluster that cannot be reached is one
// line naming the fault kind and the cause, and exit code 5.
func TestKubeClientErrors(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "no-kubeconfig")
	env := &Env{Kube: KubeConfig{Kubeconfig: missing}}
	s := NewSession(testLedger(t), env)
	f := &podTestFault{Target: podTarget{Namespace: "shop", Labels: map[string]string{"app": "web"}}}
	_, err := s.Plan(context.Background(), f)
	if err == nil {
		t.Fatal("planned against a missing kubeconfig")
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "pod_test: kubernetes: kubeconfig "+missing) {
		t.Errorf("error %q: want one line naming the kind and the kubeconfig", msg)
	}
	if got := exitcode.Of(err); got != exitcode.Runtime {
		t.Errorf("exit code %d, want %d", got, exitcode.Runtime)
	}
}

// podTestFault is the smallest pod fault: it resolves its target and does
// nothing, for tests of what every pod kind shares.
type podTestFault struct {
	Target podTarget `yaml:",inline"`
}

func (f *podTestFault) Kind() string      { return "pod_test" }
func (f *podTestFault) Validate() []error { return f.Target.validate() }
func (f *podTestFault) Describe() string  { return "pod_test on " + f.Target.describe() }
func (f *podTestFault) Resolve(ctx context.Context, env *Env) (Injection, error) {
	if _, err := f.Target.pick(ctx, env); err != nil {
		return nil, err
	}
	return nil, errors.New("pod_test injects nothing")
}
