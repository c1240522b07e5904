package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

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
