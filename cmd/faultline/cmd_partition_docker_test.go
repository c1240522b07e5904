package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/chaos/docker"
	"github.com/faultline-dev/faultline/internal/testenv"
)

// TestPartitionGroupsSIGKILLThenCleanup: `faultline chaos inject partition
// --from-name` cuts A from B on their network, is SIGKILLed with the fault
// in effect (A off the network, the partition's bridge network there), and
// `faultline chaos cleanup` then puts A, B and a third container C back on
// exactly the networks, aliases and addresses they had (docker inspect)
// and removes the bridge.
func TestPartitionGroupsSIGKILLThenCleanup(t *testing.T) {
	t.Parallel()
	eng, image := dockerTestEngine(t)
	bin := testenv.BuildFaultline(t)
	ctx := context.Background()
	labels, run := testenv.DockerLabels()
	t.Cleanup(func() { eng.RemoveByLabel(context.Background(), "faultline.testrun", run) })
	netName := "fl-cmd-net-" + run
	if _, err := eng.CreateNetwork(ctx, netName, labels); err != nil {
		t.Fatal(err)
	}
	var ids, names []string
	before := map[string]docker.Networking{}
	for range 3 {
		id, name := runTestContainer(t, eng, image, netName)
		ids, names = append(ids, id), append(names, name)
		before[id], _ = eng.Networking(ctx, id)
	}
	bridges := func() int {
		n, err := eng.Networks(ctx, map[string]string{"faultline.partition": netName})
		if err != nil {
			t.Fatal(err)
		}
		return len(n)
	}
	ledger := filepath.Join(t.TempDir(), "ledger.jsonl")
	cmd := exec.Command(bin, "chaos", "inject", "partition", "--name", names[0], "--from-name", names[1], "--for", "60s", "--ledger", ledger)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitOutput(t, out, "injected partition", 30*time.Second)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if a, _ := eng.Networking(ctx, ids[0]); len(a.Endpoints) != 1 || a.Endpoints[0].NetworkName == netName || bridges() != 1 {
		t.Fatalf("after the SIGKILL: A on %+v, %d bridge(s); want A on the bridge alone\n%s", a.Endpoints, bridges(), out.String())
	}
	cleanup, err := exec.Command(bin, "chaos", "cleanup", "--ledger", ledger).CombinedOutput()
	if code := exitCodeOf(t, err); code != 0 || !strings.Contains(string(cleanup), "reverted partition") {
		t.Fatalf("cleanup exit %d\n%s", code, cleanup)
	}
	for i, id := range ids {
		if after, _ := eng.Networking(ctx, id); !reflect.DeepEqual(after, before[id]) {
			t.Errorf("after cleanup: %s %+v\nbefore: %+v", names[i], after, before[id])
		}
	}
	if n := bridges(); n != 0 {
		t.Errorf("%d bridge network(s) left after cleanup", n)
	}
	l, _ := chaos.OpenLedger(ledger)
	if active, _ := l.Active(); len(active) != 0 {
		t.Errorf("%d faults active in the ledger", len(active))
	}
}
