package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/chaos/docker"
	"github.com/faultline-dev/faultline/internal/testenv"
)

// testRunID labels everything the Docker tests of this process create.
var testRunID = func() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}()

var testImage struct {
	once sync.Once
	tag  string
	err  error
}

// dockerEngine skips (or fails, in CI) without an engine, connects, and
// builds once per process a FROM scratch image of the static faultline
// binary that serves the Toxiproxy API on port 8474.
func dockerEngine(t *testing.T) (*docker.Engine, string) {
	t.Helper()
	testenv.Docker(t)
	bin := testenv.BuildFaultline(t)
	eng, err := docker.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	testImage.once.Do(func() {
		testImage.tag = "faultline-chaos-test:" + testRunID
		_, testImage.err = eng.BuildImage(context.Background(), docker.ImageSpec{
			Tag:        testImage.tag,
			Files:      []docker.ImageFile{{HostPath: bin, ImagePath: "/faultline", Mode: 0o755}},
			Entrypoint: []string{"/faultline"},
			Labels:     map[string]string{"faultline.test": "1", "faultline.test.run": testRunID},
		})
	})
	if testImage.err != nil {
		t.Fatal(testImage.err)
	}
	return eng, testImage.tag
}

// removeTestImages removes what the Docker tests of this process built.
func removeTestImages() {
	if testImage.tag == "" {
		return
	}
	eng, err := docker.Connect(context.Background())
	if err != nil {
		return
	}
	defer eng.Close()
	eng.RemoveByLabel(context.Background(), "faultline.test.run", testRunID)
}

type testContainer struct {
	id, name, api string
}

// runContainers starts n containers serving the Toxiproxy API, labelled
// faultline.test.group=<group>, and removes them when the test ends.
func runContainers(t *testing.T, eng *docker.Engine, image string, n int) (string, []testContainer) {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	group := testRunID + "-" + hex.EncodeToString(b[:])
	t.Cleanup(func() { eng.RemoveByLabel(context.Background(), "faultline.test.group", group) })
	var out []testContainer
	for i := range n {
		name := fmt.Sprintf("fl-chaos-%s-%d", group, i)
		id, err := eng.RunContainer(context.Background(), docker.ContainerSpec{
			Name:   name,
			Image:  image,
			Cmd:    []string{"chaos", "toxiproxy", "serve", "--listen", "0.0.0.0:8474"},
			Labels: map[string]string{"faultline.test": "1", "faultline.test.run": testRunID, "faultline.test.group": group},
			Ports:  []docker.PortBinding{{ContainerPort: 8474, HostIP: "127.0.0.1"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		c := testContainer{id: id, name: name}
		c.api = waitContainerAPI(t, eng, id)
		out = append(out, c)
	}
	return group, out
}

// waitContainerAPI waits until the container answers on its published port.
func waitContainerAPI(t *testing.T, eng *docker.Engine, id string) string {
	t.Helper()
	info, err := eng.Inspect(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	addr := info.Ports[8474]
	if addr == "" {
		t.Fatalf("container %s publishes no port: %+v", info.Name, info.Ports)
	}
	if err := waitHTTP("http://"+addr+"/version", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return addr
}

func containerState(t *testing.T, eng *docker.Engine, id string) string {
	t.Helper()
	info, err := eng.Inspect(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return info.State
}

// waitContainerState polls until the container is in state.
func waitContainerState(t *testing.T, eng *docker.Engine, id, state string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := containerState(t, eng, id)
		if got == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("container state %s, want %s", got, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestContainerFaultsRevert(t *testing.T) {
	t.Parallel()
	eng, image := dockerEngine(t)
	cases := []struct {
		name        string
		spec        Spec
		stateDuring string
		stateAfter  string
		// unresponsive says the API must not answer during the fault.
		unresponsive bool
	}{
		{name: "kill restores the container", spec: Spec{Kind: "kill"}, stateDuring: "exited", stateAfter: "running"},
		{name: "kill with SIGTERM", spec: Spec{Kind: "kill", Signal: "SIGTERM"}, stateDuring: "exited", stateAfter: "running"},
		{name: "stop restores the container", spec: Spec{Kind: "stop", Timeout: ptr(2 * time.Second)}, stateDuring: "exited", stateAfter: "running"},
		{name: "restart leaves it running", spec: Spec{Kind: "restart", Timeout: ptr(time.Second)}, stateDuring: "running", stateAfter: "running"},
		{name: "pause unpauses", spec: Spec{Kind: "pause"}, stateDuring: "paused", stateAfter: "running", unresponsive: true},
		{name: "restore false leaves it killed", spec: Spec{Kind: "kill", Restore: ptr(false)}, stateDuring: "exited", stateAfter: "exited"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			_, cs := runContainers(t, eng, image, 1)
			c := cs[0]
			spec := tc.spec
			spec.Names = []string{c.name}
			f, err := New(spec)
			if err != nil {
				t.Fatal(err)
			}
			ledger := testLedger(t)
			env := &Env{}
			defer env.Close()
			s := NewSession(ledger, env)
			e, err := s.Inject(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			// A SIGTERM is handled by the process, which exits soon after.
			waitContainerState(t, eng, c.id, tc.stateDuring)
			if tc.unresponsive {
				hc := &http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
				if resp, err := hc.Get("http://" + c.api + "/version"); err == nil {
					resp.Body.Close()
					t.Fatal("a paused container answered")
				}
			}
			if err := s.Revert(ctx, e); err != nil {
				t.Fatal(err)
			}
			if got := containerState(t, eng, c.id); got != tc.stateAfter {
				t.Fatalf("state after revert: %s, want %s", got, tc.stateAfter)
			}
			if tc.stateAfter == "running" {
				waitContainerAPI(t, eng, c.id)
			}
			if active, _ := ledger.Active(); len(active) != 0 {
				t.Fatalf("%d active after revert", len(active))
			}
		})
	}
}

func TestContainerSelection(t *testing.T) {
	t.Parallel()
	eng, image := dockerEngine(t)
	group, cs := runContainers(t, eng, image, 4)
	ctx := context.Background()
	byLabel := map[string]string{"faultline.test.group": group}

	victims := func(t *testing.T, spec Spec, seed uint64) []string {
		t.Helper()
		f, err := New(spec)
		if err != nil {
			t.Fatal(err)
		}
		env := &Env{Seed: seed}
		defer env.Close()
		inj, err := NewSession(testLedger(t), env).Plan(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, ref := range inj.(*containerInjection).Containers {
			names = append(names, ref.Name)
		}
		return names
	}
	t.Run("mode one with a seed is reproducible", func(t *testing.T) {
		spec := Spec{Kind: "kill", Labels: byLabel, Selection: Selection{Mode: ModeOne}}
		distinct := map[string]bool{}
		for seed := range uint64(12) {
			first := victims(t, spec, seed)
			again := victims(t, spec, seed)
			if len(first) != 1 || strings.Join(first, ",") != strings.Join(again, ",") {
				t.Fatalf("seed %d picked %v, then %v", seed, first, again)
			}
			distinct[first[0]] = true
		}
		if len(distinct) < 2 {
			t.Fatalf("12 seeds all picked %v", distinct)
		}
		// The spec's own seed wins over the run's.
		spec.Seed = ptr(uint64(3))
		if a, b := victims(t, spec, 100), victims(t, spec, 200); a[0] != b[0] {
			t.Fatalf("the fault's seed was ignored: %v, %v", a, b)
		}
	})
	cases := []struct {
		name string
		spec Spec
		want int
	}{
		{"mode all", Spec{Kind: "pause", Labels: byLabel, Selection: Selection{Mode: ModeAll}}, 4},
		{"mode fixed", Spec{Kind: "pause", Labels: byLabel, Selection: Selection{Mode: ModeFixed, Value: 2}}, 2},
		{"mode percent", Spec{Kind: "pause", Labels: byLabel, Selection: Selection{Mode: ModePercent, Value: 50}}, 2},
		{"re2 regex on names", Spec{Kind: "stop", Names: []string{"re2:^fl-chaos-" + group + "-[12]$"}, Selection: Selection{Mode: ModeAll}}, 2},
		{"exact names", Spec{Kind: "stop", Names: []string{cs[0].name, cs[3].name}, Selection: Selection{Mode: ModeAll}}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := victims(t, tc.spec, 1); len(got) != tc.want {
				t.Fatalf("picked %v, want %d", got, tc.want)
			}
		})
	}
	for _, c := range cs {
		if st := containerState(t, eng, c.id); st != "running" {
			t.Fatalf("planning touched %s: %s", c.name, st)
		}
	}
}

func TestContainerBadSelection(t *testing.T) {
	t.Parallel()
	eng, image := dockerEngine(t)
	group, cs := runContainers(t, eng, image, 1)
	if err := eng.Stop(context.Background(), cs[0].id, time.Second); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		spec Spec
		want []string
	}{
		{"no container matches", Spec{Kind: "kill", Labels: map[string]string{"faultline.test.group": "nope-" + group}}, []string{"no running container matches labels faultline.test.group=nope-" + group, "on the docker engine at " + eng.Host()}},
		{"only stopped ones match", Spec{Kind: "kill", Labels: map[string]string{"faultline.test.group": group}}, []string{"not running: " + cs[0].name + " (exited)"}},
		{"fixed more than match", Spec{Kind: "pause", Names: []string{"re2:^fl-chaos-" + group}, Selection: Selection{Mode: ModeFixed, Value: 2}}, []string{"no running container"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := New(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			ledger := testLedger(t)
			env := &Env{}
			defer env.Close()
			_, err = NewSession(ledger, env).Inject(context.Background(), f)
			if err == nil || exitOf(err) != 5 {
				t.Fatalf("inject = %v, want exit 5", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if active, _ := ledger.Active(); len(active) != 0 {
				t.Fatalf("%d faults recorded; nothing should be", len(active))
			}
		})
	}
}

// TestContainerCleanupAfterACrash stands for `faultline chaos cleanup`
// after the injecting process died: a new environment reverts the ledger.
func TestContainerCleanupAfterACrash(t *testing.T) {
	t.Parallel()
	eng, image := dockerEngine(t)
	group, cs := runContainers(t, eng, image, 2)
	ctx := context.Background()
	ledger := testLedger(t)
	env := &Env{}
	defer env.Close()
	s := NewSession(ledger, env)
	for _, spec := range []Spec{
		{Kind: "kill", Names: []string{cs[0].name}},
		{Kind: "pause", Labels: map[string]string{"faultline.test.group": group}, Selection: Selection{Mode: ModeAll}},
	} {
		f, err := New(spec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Inject(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := containerState(t, eng, cs[0].id), containerState(t, eng, cs[1].id); a != "exited" || b != "paused" {
		t.Fatalf("states %s, %s; want exited, paused", a, b)
	}
	fresh := &Env{}
	defer fresh.Close()
	var out strings.Builder
	if n, err := RevertLedger(ctx, ledger, fresh, &out); err != nil || n != 2 {
		t.Fatalf("RevertLedger = %d, %v\n%s", n, err, out.String())
	}
	for _, c := range cs {
		if st := containerState(t, eng, c.id); st != "running" {
			t.Fatalf("%s is %s after cleanup\n%s", c.name, st, out.String())
		}
	}
}

func TestContainerRemovedBeforeRevertIsGone(t *testing.T) {
	t.Parallel()
	eng, image := dockerEngine(t)
	_, cs := runContainers(t, eng, image, 1)
	ctx := context.Background()
	env := &Env{}
	defer env.Close()
	s := NewSession(testLedger(t), env)
	f, _ := New(Spec{Kind: "stop", Names: []string{cs[0].name}, Timeout: ptr(time.Second)})
	e, err := s.Inject(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.RemoveContainer(ctx, cs[0].id); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	s.Out = &out
	if err := s.Revert(ctx, e); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), cs[0].name+" is gone") {
		t.Fatalf("revert said %q", out.String())
	}
}
