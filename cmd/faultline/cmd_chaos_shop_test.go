package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/chaos/docker"
	"github.com/faultline-dev/faultline/internal/testenv"
	"github.com/faultline-dev/faultline/targets"
)

// TestChaosCleanupRemovesAnOrphanedDockerShop is issue 10's SIGKILL in
// Docker mode: `targets up --docker` deploys the shop (4 containers and a
// network), a detached `chaos kill` kills catalog, and the shop's process
// is killed with SIGKILL. status must list the orphaned shop, and cleanup
// must start catalog again (the ledger's fault) and then remove every
// container and the network (before the fix it restarted catalog and
// removed nothing).
//
// It is not parallel: every `chaos cleanup` removes every orphaned shop on
// the engine, so another test's cleanup running meanwhile (there are
// several) would remove this shop first, and this cleanup would find none.
// A test that is not parallel runs while the parallel ones wait.
func TestChaosCleanupRemovesAnOrphanedDockerShop(t *testing.T) {
	testenv.Docker(t)
	bin := testenv.BuildFaultline(t)
	testLabels, suffix := testenv.DockerLabels()
	tag := "faultline-test/orphan:" + suffix

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	eng, err := docker.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		eng.RemoveByLabel(cctx, "faultline.testrun", suffix)
		eng.Close()
	})
	if _, err := targets.BuildImage(ctx, eng, targets.ImageOptions{Binary: bin, Tag: tag, Labels: testLabels}); err != nil {
		t.Fatal(err)
	}

	up := exec.Command(bin, "targets", "up", "--docker", "--image", tag)
	stderr := &syncBuffer{}
	up.Stderr = stderr
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Process.Kill(); up.Wait() })
	runLabel := regexp.MustCompile(`label faultline\.run=(\w+)\)`)
	var runID string
	for deadline := time.Now().Add(2 * time.Minute); runID == ""; {
		if m := runLabel.FindStringSubmatch(stderr.String()); m != nil {
			runID = m[1]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shop did not come up:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Whatever the test's outcome, nothing of this shop stays.
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		eng.RemoveByLabel(cctx, targets.LabelRun, runID)
	})

	ledger := filepath.Join(t.TempDir(), "ledger.jsonl")
	kill := exec.Command(bin, "chaos", "kill", "--label", targets.LabelRun+"="+runID, "--label", targets.LabelService+"=catalog", "--ledger", ledger)
	if out, err := kill.CombinedOutput(); err != nil {
		t.Fatalf("chaos kill: %v\n%s", err, out)
	}
	up.Process.Signal(syscall.SIGKILL)
	up.Wait()
	if c, n, _, err := eng.CountByLabel(ctx, targets.LabelRun, runID); err != nil || c != 4 || n != 1 {
		t.Fatalf("after SIGKILL: %d containers, %d networks (%v); want the 4 and 1 left behind", c, n, err)
	}

	code, out, errs := runCLI(t, "chaos", "status", "--ledger", ledger)
	if code != 0 || !strings.Contains(out, "shop faultline.run="+runID+": 4 container(s)") || !strings.Contains(out, "(ended: orphaned)") {
		t.Fatalf("status: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runCLI(t, "chaos", "cleanup", "--ledger", ledger)
	if code != 0 || !strings.Contains(out, "reverted kill") || !strings.Contains(out, "removed orphaned shop faultline.run="+runID) {
		t.Fatalf("cleanup: exit %d\n%s%s", code, out, errs)
	}
	if c, n, _, err := eng.CountByLabel(ctx, targets.LabelRun, runID); err != nil || c != 0 || n != 0 {
		t.Fatalf("after cleanup: %d containers, %d networks (%v); want none", c, n, err)
	}
	_ = os.Remove(ledger)
}

// TestChaosCleanupLeavesALiveShop: a shop whose process runs (this test)
// is listed and left alone by cleanup.
func TestChaosCleanupLeavesALiveShop(t *testing.T) {
	t.Parallel()
	testenv.Docker(t)
	bin := testenv.BuildFaultline(t)
	labels, suffix := testenv.DockerLabels()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	shop, err := targets.StartDocker(ctx, targets.Defaults(), targets.DockerOptions{
		ImageOptions: targets.ImageOptions{Binary: bin, Tag: "faultline-test/live:" + suffix, Labels: labels},
		Labels:       labels, RunID: "t" + suffix, Only: []string{targets.Store},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		shop.Close(context.Background())
		if eng, err := docker.Connect(context.Background()); err == nil {
			eng.RemoveByLabel(context.Background(), "faultline.testrun", suffix)
			eng.Close()
		}
	}()
	ledger := filepath.Join(t.TempDir(), "ledger.jsonl")
	os.WriteFile(ledger, nil, 0o644)
	code, out, errs := runCLI(t, "chaos", "cleanup", "--ledger", ledger)
	want := "left shop faultline.run=t" + suffix + ": 1 container(s)"
	if code != 0 || !strings.Contains(out, want) || !strings.Contains(out, "(running)") {
		t.Fatalf("cleanup: exit %d, want %q\n%s%s", code, want, out, errs)
	}
	if c, _ := shop.Container(targets.Store); containerRunning(t, c.ID) != "running" {
		t.Fatal("cleanup touched a live shop")
	}
}

func containerRunning(t *testing.T, id string) string {
	t.Helper()
	eng, err := docker.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	info, err := eng.Inspect(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return info.State
}
