package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/chaos/docker"
	"github.com/faultline-dev/faultline/internal/testenv"
)

// dockerImage is the FROM scratch image around the faultline binary that
// this package's container fault tests run, built once.
var dockerImage struct {
	once sync.Once
	tag  string
	run  string // its faultline.testrun label, which removeDockerImage removes by
	err  error
}

// dockerTestEngine skips (or fails, in CI) without an engine, connects, and
// builds the image once.
func dockerTestEngine(t *testing.T) (*docker.Engine, string) {
	t.Helper()
	testenv.Docker(t)
	bin := testenv.BuildFaultline(t)
	eng, err := docker.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	dockerImage.once.Do(func() {
		labels, run := testenv.DockerLabels()
		dockerImage.tag, dockerImage.run = "faultline-cmd-test:"+run, run
		_, dockerImage.err = eng.BuildImage(context.Background(), docker.ImageSpec{
			Tag: dockerImage.tag, Labels: labels, Entrypoint: []string{"/faultline"},
			Files: []docker.ImageFile{{HostPath: bin, ImagePath: "/faultline", Mode: 0o755}},
		})
	})
	if dockerImage.err != nil {
		t.Fatal(dockerImage.err)
	}
	return eng, dockerImage.tag
}

// removeDockerImage removes the image and whatever a test left labelled
// with its run.
func removeDockerImage() {
	if dockerImage.run == "" {
		return
	}
	eng, err := docker.Connect(context.Background())
	if err != nil {
		return
	}
	defer eng.Close()
	eng.RemoveByLabel(context.Background(), "faultline.testrun", dockerImage.run)
}

// runTestContainer starts a container of the image (serving the Toxiproxy
// API, which idles) on network ("" is the engine's default bridge, "none"
// none), removed when the test ends, and returns its ID and name.
func runTestContainer(t *testing.T, eng *docker.Engine, image, network string) (string, string) {
	t.Helper()
	labels, run := testenv.DockerLabels()
	t.Cleanup(func() { eng.RemoveByLabel(context.Background(), "faultline.testrun", run) })
	name := "fl-cmd-" + run
	id, err := eng.RunContainer(context.Background(), docker.ContainerSpec{
		Name: name, Image: image, Labels: labels, Network: network,
		Cmd: []string{"chaos", "toxiproxy", "serve", "--listen", "0.0.0.0:8474"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return id, name
}

// containerKind is one container fault kind as the command line injects
// it, and how to see from the engine that it is in effect.
type containerKind struct {
	kind string
	args []string
	// effect, called before the injection, returns whether the fault is in
	// effect on the container: the limits or networks the engine reports,
	// or the cgroup's CPU and memory accounting.
	effect func(t *testing.T, eng *docker.Engine, id string) func() bool
}

var containerKinds = []containerKind{
	{"cpu_limit", []string{"--cpus", "0.25"}, func(t *testing.T, eng *docker.Engine, id string) func() bool {
		return func() bool { l, err := eng.Limits(context.Background(), id); return err == nil && l.CPUQuota == 25_000 }
	}},
	{"memory_limit", []string{"--memory", "64MiB"}, func(t *testing.T, eng *docker.Engine, id string) func() bool {
		return func() bool { l, err := eng.Limits(context.Background(), id); return err == nil && l.Memory == 64<<20 }
	}},
	{"partition", nil, func(t *testing.T, eng *docker.Engine, id string) func() bool {
		return func() bool {
			n, err := eng.Networking(context.Background(), id)
			return err == nil && len(n.Endpoints) == 0
		}
	}},
	// 50% of a CPU: a tenth of a core over half a second is the stressor
	// even on the loaded 2-core test machine; the idle container uses next
	// to nothing.
	{"cpu_stress", []string{"--load", "50"}, func(t *testing.T, eng *docker.Engine, id string) func() bool {
		return func() bool { return cpuOver(t, eng, id, 500*time.Millisecond) >= 50*time.Millisecond }
	}},
	{"memory_stress", []string{"--size", "64MiB"}, func(t *testing.T, eng *docker.Engine, id string) func() bool {
		before := containerUsage(t, eng, id).Memory
		return func() bool { return containerUsage(t, eng, id).Memory-before >= 48<<20 }
	}},
}

func containerUsage(t *testing.T, eng *docker.Engine, id string) docker.Usage {
	t.Helper()
	u, err := eng.Usage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// cpuOver is the CPU time the container's cgroup used over window.
func cpuOver(t *testing.T, eng *docker.Engine, id string, window time.Duration) time.Duration {
	before := containerUsage(t, eng, id).CPU
	<-time.After(window) // a rate needs a window of time
	return containerUsage(t, eng, id).CPU - before
}

// waitEffect polls until in() says want, for up to 30s.
func waitEffect(t *testing.T, in func() bool, want bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); in() != want; {
		if time.Now().After(deadline) {
			t.Fatalf("in effect: %v after 30s, want %v: %s", !want, want, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// containerEnds are the ways `faultline chaos inject KIND --for` ends:
// its time is up (exit 0), the first SIGINT (130), SIGKILL (then `faultline
// chaos cleanup` reverts what the killed process left).
var containerEnds = []struct {
	name   string
	signal syscall.Signal
	code   int
}{{"time up", 0, 0}, {"SIGINT", syscall.SIGINT, 130}, {"SIGKILL", syscall.SIGKILL, -int(syscall.SIGKILL)}}

// TestContainerKindsRevertOnEveryEnd injects each container kind of issue
// 12 from the command line and ends it each way: the time up, the first
// SIGINT, SIGKILL then `faultline chaos cleanup`. Each signal comes once
// the fault is seen in effect on the container (and a SIGKILLed one is seen
// to outlive faultline); after each end the revert is reported and the
// container is as it was (the stressors stopped: the cgroup's CPU and
// memory back down), with nothing active in the ledger.
func TestContainerKindsRevertOnEveryEnd(t *testing.T) {
	t.Parallel()
	eng, image := dockerTestEngine(t)
	bin := testenv.BuildFaultline(t)
	for _, tc := range containerKinds {
		for _, end := range containerEnds {
			t.Run(tc.kind+"/"+end.name, func(t *testing.T) {
				t.Parallel()
				id, name := runTestContainer(t, eng, image, "")
				in := tc.effect(t, eng, id)
				ledger := filepath.Join(t.TempDir(), "ledger.jsonl")
				hold := "60s"
				if end.signal == 0 {
					hold = "2s"
				}
				cmd := exec.Command(bin, append([]string{"chaos", "inject", tc.kind, "--name", name, "--for", hold, "--ledger", ledger}, tc.args...)...)
				out := &syncBuffer{}
				cmd.Stdout, cmd.Stderr = out, out
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
				waitOutput(t, out, "injected "+tc.kind, 30*time.Second)
				if end.signal != 0 {
					waitEffect(t, in, true, "after the injection\n"+out.String())
					cmd.Process.Signal(end.signal)
				}
				if code := exitCodeOf(t, cmd.Wait()); code != end.code {
					t.Fatalf("exit %d, want %d\n%s", code, end.code, out.String())
				}
				said := out.String()
				if end.signal == syscall.SIGKILL {
					if !in() {
						t.Fatalf("%s did not outlive the SIGKILL", tc.kind)
					}
					cleanup, err := exec.Command(bin, "chaos", "cleanup", "--ledger", ledger).CombinedOutput()
					if code := exitCodeOf(t, err); code != 0 {
						t.Fatalf("cleanup exit %d\n%s", code, cleanup)
					}
					said = string(cleanup)
				}
				if !strings.Contains(said, "reverted "+tc.kind) {
					t.Fatalf("no revert reported:\n%s", said)
				}
				waitEffect(t, in, false, "after the end\n"+said)
				l, _ := chaos.OpenLedger(ledger)
				if active, _ := l.Active(); len(active) != 0 {
					t.Errorf("%d faults active in the ledger", len(active))
				}
			})
		}
	}
}

// abortAllKinds holds every kind of issue 12 at once, on the in-process
// shop and on one container: the http_delay of 300ms on gateway->catalog,
// injected last, breaks the abort condition, and the abort must revert all
// of them.
const abortAllKinds = `name: issue-12-kinds-abort
targets:
  shop: true
proxies:
  - name: catalog
    link: gateway->catalog
load:
  rate: 50/s
  requests:
    - name: product
      url: ${targets.gateway}/api/products/p001
phases:
  - name: baseline
    duration: 2s
  - name: fault
    duration: 30s
    faults:
      - {kind: cpu_limit, names: [%[1]s], cpus: 0.25}
      - {kind: memory_limit, names: [%[1]s], memory: 128MiB}
      - {kind: cpu_stress, names: [%[1]s], load: 50}
      - {kind: memory_stress, names: [%[1]s], size: 64MiB}
      - {kind: partition, names: [%[1]s]}
      - {kind: cpu_stress, service: store, load: 50}
      - {kind: http_abort, proxy: catalog, method: POST}
      - {kind: http_delay, proxy: catalog, delay: 300ms}
abort:
  - p99 < 150ms over 1s
`

// TestIssue12KindsRevertOnAbort runs an experiment holding every kind of
// issue 12 that an abort condition stops: exit 4, each kind's revert
// reported, the container as it was, nothing active in the ledger.
func TestIssue12KindsRevertOnAbort(t *testing.T) {
	t.Parallel()
	eng, image := dockerTestEngine(t)
	id, name := runTestContainer(t, eng, image, "")
	var effects []func() bool
	for _, k := range containerKinds {
		effects = append(effects, k.effect(t, eng, id))
	}
	dir := t.TempDir()
	exp := filepath.Join(dir, "exp.yaml")
	if err := os.WriteFile(exp, []byte(fmt.Sprintf(abortAllKinds, name)), 0o644); err != nil {
		t.Fatal(err)
	}
	ledger := filepath.Join(dir, "ledger.jsonl")
	out, err := exec.Command(testenv.BuildFaultline(t), "run", exp, "--out", filepath.Join(dir, "out"), "--ledger", ledger).CombinedOutput()
	if code := exitCodeOf(t, err); code != 4 {
		t.Fatalf("exit %d, want 4 (aborted)\n%s", code, out)
	}
	for _, kind := range []string{"http_delay", "http_abort", "cpu_stress", "cpu_limit", "memory_limit", "memory_stress", "partition"} {
		if !strings.Contains(string(out), "reverted "+kind) {
			t.Errorf("no revert of %s reported", kind)
		}
	}
	for i, in := range effects {
		waitEffect(t, in, false, containerKinds[i].kind+" after the abort\n"+string(out))
	}
	l, _ := chaos.OpenLedger(ledger)
	if active, _ := l.Active(); len(active) != 0 {
		t.Errorf("%d faults active in the ledger:\n%s", len(active), out)
	}
}

// containerPreflight is an experiment whose container faults cannot be:
// one container has no network (network mode none), the other is not on
// the network named, and has a CPU limit the cpu_limit would not lower.
const containerPreflight = `name: container-preflight
targets:
  external:
    web: %[1]s
load:
  rate: 20/s
  requests:
    - url: ${targets.web}/
phases:
  - name: baseline
    duration: 2s
  - name: cut
    duration: 2s
    faults:
      - kind: partition
        names: [%[2]s]
      - kind: partition
        names: [%[3]s]
        network: elsewhere
      - kind: cpu_limit
        names: [%[3]s]
        cpus: 2
`

// TestRunChecksContainerFaultsFirst: a partition of a container with no network,
// or not on the network named, and a cpu_limit above the container's, are
// found once the targets are up and before anything else: exit 2, each
// problem at file:line:col of its field (of the fault, for a network not
// written), no request sent, nothing in the ledger.
func TestRunChecksContainerFaultsFirst(t *testing.T) {
	t.Parallel()
	eng, image := dockerTestEngine(t)
	_, lonely := runTestContainer(t, eng, image, "none")
	bridged, onBridge := runTestContainer(t, eng, image, "")
	if err := eng.SetLimits(context.Background(), bridged, docker.Limits{NanoCPUs: 1_500_000_000}); err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int64
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1) }))
	defer web.Close()
	dir := t.TempDir()
	exp := filepath.Join(dir, "exp.yaml")
	if err := os.WriteFile(exp, []byte(fmt.Sprintf(containerPreflight, web.URL, lonely, onBridge)), 0o644); err != nil {
		t.Fatal(err)
	}
	ledger := filepath.Join(dir, "ledger.jsonl")
	code, _, stderr := runCLI(t, "run", exp, "--out", filepath.Join(dir, "out"), "--ledger", ledger)
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s", code, stderr)
	}
	for _, want := range []string{
		exp + ":15:9: phases[1].faults[0].network: partition: container " + lonely + " has no network of its own to cut it from (network mode none)",
		exp + ":19:18: phases[1].faults[1].network: partition: container " + onBridge + " is not on network elsewhere (it is on bridge)",
		exp + ":22:15: phases[1].faults[2].cpus: cpu_limit: " + onBridge + ": already limited to 1.5 CPUs: cpus 2 would not lower it",
	} {
		if !strings.Contains(stderr, want+"\n") {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests sent", n)
	}
	if raw, err := os.ReadFile(ledger); err == nil && strings.Contains(string(raw), `"op":"inject"`) {
		t.Errorf("the ledger records an injection:\n%s", raw)
	}
}

// TestContainerKindsDryRun: `faultline chaos inject KIND --dry-run` of each
// container kind of issue 12 resolves the container, prints what it would
// do to it, exits 0 and touches nothing: the container's limits and
// networks as they were, nothing in the ledger.
func TestContainerKindsDryRun(t *testing.T) {
	t.Parallel()
	eng, image := dockerTestEngine(t)
	id, name := runTestContainer(t, eng, image, "")
	before, err := eng.Limits(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	ledger := filepath.Join(t.TempDir(), "ledger.jsonl")
	for _, tc := range []struct {
		kind string
		args []string
		want string
	}{
		{"cpu_limit", []string{"--cpus", "0.25"}, "cpu_limit 0.25 CPUs on container(s) " + name},
		{"memory_limit", []string{"--memory", "64MiB"}, "memory_limit 64MiB on container(s) " + name},
		{"cpu_stress", []string{"--load", "80", "--workers", "2"}, "cpu_stress 80% x2 on container(s) " + name},
		{"memory_stress", []string{"--size", "64MiB"}, "memory_stress 64MiB on container(s) " + name},
		{"partition", nil, "partition " + name + " from bridge ("},
	} {
		// The real binary: the stress kinds check that the binary they
		// would copy is static, and a test binary is not.
		cmd := exec.Command(testenv.BuildFaultline(t), append([]string{"chaos", "inject", tc.kind, "--name", name, "--dry-run", "--ledger", ledger}, tc.args...)...)
		out, err := cmd.Output() // stdout; stderr has the seed
		if code := exitCodeOf(t, err); code != 0 || !strings.HasPrefix(string(out), "dry run: would inject "+tc.want) {
			t.Errorf("%s: exit %d, output %q, want it to start %q", tc.kind, code, out, "dry run: would inject "+tc.want)
		}
	}
	if after, err := eng.Limits(context.Background(), id); err != nil || after != before {
		t.Errorf("limits after the dry runs: %+v, %v, want %+v", after, err, before)
	}
	if n, err := eng.Networking(context.Background(), id); err != nil || len(n.Endpoints) != 1 {
		t.Errorf("networks after the dry runs: %+v, %v, want the container on bridge", n, err)
	}
	if raw, err := os.ReadFile(ledger); err == nil && len(raw) > 0 {
		t.Errorf("the ledger records:\n%s", raw)
	}
}

// TestRunDryRunNamesTheFaults: `faultline run --dry-run` of the examples of
// issue 12 prints when each fault is injected and reverted, and what it is.
func TestRunDryRunNamesTheFaults(t *testing.T) {
	t.Parallel()
	for example, want := range map[string][]string{
		"cpu-stress":  {"20s  inject cpu_stress 80% on in-process service store", "50s  revert cpu_stress 80% on in-process service store"},
		"http-faults": {"15s  inject http_abort 503 for 10% of POST /orders on proxy orders", "45s  revert http_abort"},
		"partition":   {"15s  inject partition from every network all of the running containers with labels faultline.run=${run.id}, faultline.service=store", "35s  revert partition"},
	} {
		code, stdout, stderr := runCLI(t, "run", "../../examples/"+example+".yaml", "--dry-run")
		for _, w := range want {
			if code != 0 || !strings.Contains(stdout, w) {
				t.Errorf("%s: exit %d, stdout lacks %q:\n%s%s", example, code, w, stdout, stderr)
			}
		}
	}
}
