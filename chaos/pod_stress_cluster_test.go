package chaos

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestPodCPUStress runs pod_cpu_stress (80% of a CPU, one worker) in a pod
// of the pause image and reads the pod's cgroup on the node: the stressor's
// CPU lands in the pod. Revert stops it. Then a stressor left alone ends at
// its max_duration by itself. About 25s; timing-sensitive (run it under
// flock /work/wt/timing.lock).
func TestPodCPUStress(t *testing.T) {
	k := newNetKube(t)
	pod := k.victim(t, "victim")
	cg := cgroupOf(t, pod)
	idle := cores(t, cg, 2*time.Second)
	s := NewSession(openTestLedger(t), k.env)
	f := decodeChecked(t, fmt.Sprintf("kind: pod_cpu_stress\nnamespace: %s\nlabels: {app: victim}\nload: 80\nworkers: 1\nmax_duration: 2m\nimage: %s\n", k.ns, k.image))
	e, err := s.Inject(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	inj := e.Injection.(*podStressInjection)
	busy := cores(t, cg, 5*time.Second)
	t.Logf("pod cgroup %s: %.2f cores idle, %.2f cores under pod_cpu_stress 80%% x1", cg, idle, busy)
	if busy < 0.5 || busy > 1.1 {
		t.Errorf("the pod used %.2f cores under 80%% of one CPU, want about 0.8", busy)
	}
	if st := k.ephemeralStatus(t, "victim", inj.Container); st == nil || st.State.Running == nil {
		t.Fatalf("ephemeral container %s not running: %+v", inj.Container, st)
	}
	if err := s.Revert(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if st := k.ephemeralStatus(t, "victim", inj.Container); st == nil || st.State.Terminated == nil {
		t.Errorf("ephemeral container %s after revert: %+v", inj.Container, st)
	}
	if after := cores(t, cg, 2*time.Second); after > 0.2 {
		t.Errorf("the pod used %.2f cores after revert", after)
	}

	// Left alone (faultline gone), the stressor ends at its max_duration.
	f = decodeChecked(t, fmt.Sprintf("kind: pod_cpu_stress\nnamespace: %s\nnames: [victim]\nload: 10\nmax_duration: 3s\nimage: %s\n", k.ns, k.image))
	e, err = s.Inject(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	name := e.Injection.(*podStressInjection).Container
	deadline := time.Now().Add(30 * time.Second)
	for st := k.ephemeralStatus(t, "victim", name); st == nil || st.State.Terminated == nil; st = k.ephemeralStatus(t, "victim", name) {
		if time.Now().After(deadline) {
			t.Fatalf("the stressor with max_duration 3s still runs after 30s: %+v", st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	st := k.ephemeralStatus(t, "victim", name)
	t.Logf("left alone: ran %v, exit %d", st.State.Terminated.FinishedAt.Sub(st.State.Terminated.StartedAt.Time), st.State.Terminated.ExitCode)
	if st.State.Terminated.ExitCode != 0 {
		t.Errorf("the stressor ended with status %d at its deadline", st.State.Terminated.ExitCode)
	}
	if note, err := e.Injection.Revert(context.Background(), k.env); err != nil || !strings.Contains(note, "had ended") {
		t.Errorf("revert after the deadline: %q, %v", note, err)
	}
	s.Revert(context.Background(), e)
}

// TestPodMemoryStress runs pod_memory_stress (64MiB) in a pod and reads the
// pod's cgroup: the memory is charged to the pod, and given back on revert.
// About 15s.
func TestPodMemoryStress(t *testing.T) {
	k := newNetKube(t)
	pod := k.victim(t, "victim")
	cg := cgroupOf(t, pod)
	base := cgroupMemory(t, cg)
	s := NewSession(openTestLedger(t), k.env)
	plan, err := s.Plan(context.Background(), decodeChecked(t, fmt.Sprintf("kind: pod_memory_stress\nnamespace: %s\nnames: [victim]\nsize: 64MiB\n", k.ns)))
	if err != nil || !strings.Contains(plan.Describe(), "in pod(s) "+k.ns+"/victim") {
		t.Errorf("plan %v, %v: want the pod", plan, err)
	}
	f := decodeChecked(t, fmt.Sprintf("kind: pod_memory_stress\nnamespace: %s\nlabels: {app: victim}\nsize: 64MiB\nmax_duration: 2m\nimage: %s\n", k.ns, k.image))
	e, err := s.Inject(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	var held int64
	deadline := time.Now().Add(20 * time.Second)
	for held < 60<<20 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		held = cgroupMemory(t, cg) - base
	}
	t.Logf("pod cgroup %s: %d MiB before, +%d MiB under pod_memory_stress 64MiB", cg.memory, base>>20, held>>20)
	if held < 60<<20 {
		t.Errorf("the pod holds %d MiB more, want about 64", held>>20)
	}
	if err := s.Revert(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if after := cgroupMemory(t, cg) - base; after > 32<<20 {
		t.Errorf("the pod still holds %d MiB more after revert", after>>20)
	}
}
