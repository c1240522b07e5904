package chaos

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func newPodKill(ns string, labels map[string]string, sel Selection) *podKillFault {
	return &podKillFault{Target: podTarget{Namespace: ns, Labels: labels, Selection: sel}}
}

// TestPodKill kills one pod of a Deployment and of a StatefulSet: each is
// gone at once, its controller makes a new one, and the revert waits until
// the workload is ready again and says so.
func TestPodKill(t *testing.T) {
	t.Parallel()
	k := newKubeTest(t)
	k.deployment(t, "web", 2)
	k.statefulSet(t, "db", 1)
	before := k.state(t)
	for _, tc := range []struct {
		app, workload string
	}{
		{"web", "deployment/web"},
		{"db", "statefulset/db"},
	} {
		t.Run(tc.app, func(t *testing.T) {
			ctx := context.Background()
			s := NewSession(testLedger(t), k.env)
			old := k.pods(t, tc.app)
			start := time.Now()
			e, err := s.Inject(ctx, newPodKill(k.ns, map[string]string{"app": tc.app}, Selection{}))
			if err != nil {
				t.Fatal(err)
			}
			killed := e.Injection.(*podKillInjection).Pods
			if len(killed) != 1 {
				t.Fatalf("killed %v, want one pod", killed)
			}
			for _, p := range k.pods(t, tc.app) {
				if string(p.UID) == killed[0].UID {
					t.Fatalf("pod %s still there after pod_kill", p.Name)
				}
			}
			if err := s.Revert(ctx, e); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: killed %s, ready again %s after the kill", tc.workload, killed[0].Name, time.Since(start).Round(time.Millisecond))
			now := k.pods(t, tc.app)
			if len(now) != len(old) {
				t.Fatalf("%d pods after the revert, want %d", len(now), len(old))
			}
			for _, p := range now {
				if !podReady(&p) {
					t.Fatalf("pod %s not ready after the revert", p.Name)
				}
			}
			if active, _ := s.ledger.Active(); len(active) != 0 {
				t.Fatalf("%d active after the revert", len(active))
			}
		})
	}
	k.waitState(t, before, 10*time.Second)
}

// TestPodKillRevertSaysReady checks the revert's note, in the session's
// output, names the workload and its readiness.
func TestPodKillRevertSaysReady(t *testing.T) {
	t.Parallel()
	k := newKubeTest(t)
	k.deployment(t, "web", 2)
	var out strings.Builder
	s := NewSession(testLedger(t), k.env)
	s.Out = &out
	if err := s.Hold(context.Background(), newPodKill(k.ns, map[string]string{"app": "web"}, Selection{}), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "deployment/web ready (2/2) after") {
		t.Fatalf("output does not say the deployment is ready again:\n%s", out.String())
	}
}

// TestPodKillPlan checks the dry run: it names the pods and their
// workload, says when every pod of a workload would go, and deletes
// nothing.
func TestPodKillPlan(t *testing.T) {
	t.Parallel()
	k := newKubeTest(t)
	k.deployment(t, "web", 2)
	before := k.pods(t, "web")
	s := NewSession(testLedger(t), k.env)
	ctx := context.Background()
	for _, tc := range []struct {
		sel  Selection
		want []string
		not  []string
	}{
		{Selection{}, []string{"pod(s) web-", "of deployment/web", "one of 2 with labels app=web"}, []string{"EVERY"}},
		{Selection{Mode: ModeAll}, []string{"hits EVERY pod of deployment/web (2 of 2 pods)"}, nil},
		{Selection{Mode: ModePercent, Value: 100}, []string{"hits EVERY pod of deployment/web"}, nil},
	} {
		inj, err := s.Plan(ctx, newPodKill(k.ns, map[string]string{"app": "web"}, tc.sel))
		if err != nil {
			t.Fatal(err)
		}
		d := inj.Describe()
		for _, w := range tc.want {
			if !strings.Contains(d, w) {
				t.Errorf("plan %q does not say %q", d, w)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(d, w) {
				t.Errorf("plan %q says %q", d, w)
			}
		}
	}
	after := k.pods(t, "web")
	if !slices.EqualFunc(before, after, func(a, b corev1.Pod) bool { return a.UID == b.UID }) {
		t.Fatal("a dry run deleted pods")
	}
}

// TestPodFaultClusterErrors checks the errors only the cluster can tell:
// each is one line naming the kind and the problem, exit code 5, and
// nothing in the ledger.
func TestPodFaultClusterErrors(t *testing.T) {
	t.Parallel()
	k := newKubeTest(t)
	k.deployment(t, "web", 1)
	for _, tc := range []struct {
		name  string
		fault Fault
		want  string
	}{
		{"namespace missing", newPodKill(k.ns+"-absent", map[string]string{"app": "web"}, Selection{}), `pod_kill: kubernetes API https://`},
		{"nothing matches", newPodKill(k.ns, map[string]string{"app": "nothing"}, Selection{}), "no pod matches"},
		{"fixed beyond the matches", newPodKill(k.ns, map[string]string{"app": "web"}, Selection{Mode: ModeFixed, Value: 2}), "mode fixed 2 but only 1 match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ledger := testLedger(t)
			_, err := NewSession(ledger, k.env).Inject(context.Background(), tc.fault)
			if err == nil {
				t.Fatal("injected")
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, tc.fault.Kind()+": ") {
				t.Errorf("error %q: want one line starting with the kind, saying %q", msg, tc.want)
			}
			if code := exitOf(err); code != 5 {
				t.Errorf("exit %d, want 5", code)
			}
			if ok, _ := ledger.Exists(); ok {
				t.Error("the ledger recorded a fault that was never injected")
			}
		})
	}
	if n := len(k.pods(t, "web")); n != 1 {
		t.Fatalf("%d pods of web, want the 1 untouched", n)
	}
}
