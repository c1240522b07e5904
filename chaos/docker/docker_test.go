package docker

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/docker/go-connections/nat"

	"github.com/faultline-dev/faultline/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func connect(t *testing.T) *Engine {
	t.Helper()
	testenv.Docker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	eng, err := Connect(ctx)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

// cleanupByLabel removes what the test created, also when it fails, and
// then checks that nothing is left.
func cleanupByLabel(t *testing.T, eng *Engine, run string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := eng.RemoveByLabel(ctx, "faultline.testrun", run); err != nil {
			t.Errorf("RemoveByLabel: %v", err)
		}
		c, n, i, err := eng.CountByLabel(ctx, "faultline.testrun", run)
		if err != nil {
			t.Errorf("CountByLabel: %v", err)
		} else if c+n+i != 0 {
			t.Errorf("left behind: %d containers, %d networks, %d images", c, n, i)
		}
	})
}

func waitState(t *testing.T, eng *Engine, id, want string) ContainerInfo {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		info, err := eng.Inspect(context.Background(), id)
		if err != nil {
			t.Fatalf("Inspect: %v", err)
		}
		if info.State == want {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("container state %q, want %q", info.State, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitHTTP polls url until it answers 200.
func waitHTTP(t *testing.T, url string) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: not 200 within 30s (last error: %v)", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// labelledImage connects to the engine and builds an image FROM scratch
// around the static faultline binary, tagged faultline-test/NAME:RUN, under
// the test's labels; everything carrying them is removed when the test
// ends.
func labelledImage(t *testing.T, name string) (eng *Engine, labels map[string]string, run, imageID string) {
	t.Helper()
	eng = connect(t)
	bin := testenv.BuildFaultline(t)
	labels, run = testenv.DockerLabels()
	cleanupByLabel(t, eng, run)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	imageID, err := eng.BuildImage(ctx, ImageSpec{
		Tag:        "faultline-test/" + name + ":" + run,
		Files:      []ImageFile{{HostPath: bin, ImagePath: "/faultline", Mode: 0o755}},
		Entrypoint: []string{"/faultline"},
		Labels:     labels,
	})
	if err != nil {
		t.Fatalf("BuildImage: %v", err)
	}
	return eng, labels, run, imageID
}

// TestEngineLifecycle drives the real engine end to end: an image FROM
// scratch around the static faultline binary, a labelled network and
// container, inspect, list by name, regex and label, pause/unpause,
// kill/start, stop, restart, and removal by label with nothing left behind.
func TestEngineLifecycle(t *testing.T) {
	t.Parallel()
	eng, labels, run, imageID := labelledImage(t, "docker")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	if !strings.HasPrefix(imageID, "sha256:") {
		t.Errorf("image ID = %q, want sha256:...", imageID)
	}
	if ok, err := eng.ImageExists(ctx, imageID); err != nil || !ok {
		t.Fatalf("ImageExists(%s) = %v, %v", imageID, ok, err)
	}

	netName := "faultline-test-" + run
	if _, err := eng.CreateNetwork(ctx, netName, labels); err != nil {
		t.Fatalf("CreateNetwork: %v", err)
	}
	name := "faultline-test-" + run + "-store"
	id, err := eng.RunContainer(ctx, ContainerSpec{
		Name:    name,
		Image:   imageID,
		Cmd:     []string{"targets", "serve", "store", "--listen", ":8080"},
		Labels:  labels,
		Network: netName,
		Aliases: []string{"store"},
		Ports:   []PortBinding{{ContainerPort: 8080}},
	})
	if err != nil {
		t.Fatalf("RunContainer: %v", err)
	}
	info := waitState(t, eng, id, "running")
	if info.Name != name || info.Labels["faultline.testrun"] != run {
		t.Errorf("Inspect = %+v", info)
	}
	addr := info.Ports[8080]
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("published address %q, want 127.0.0.1:NNNN", addr)
	}
	waitHTTP(t, "http://"+addr+"/healthz")

	for _, sel := range []Selector{
		{Names: []string{name}},
		{Names: []string{"/" + name}},
		{Names: []string{id[:12]}},
		{NameRegex: "^faultline-test-" + run},
		{Labels: map[string]string{"faultline.testrun": run}},
		{Labels: map[string]string{"faultline.testrun": run}, NameRegex: "store$"},
	} {
		got, err := eng.List(ctx, sel)
		if err != nil {
			t.Fatalf("List(%+v): %v", sel, err)
		}
		if len(got) != 1 || got[0].ID != id || got[0].Ports[8080] != addr {
			t.Errorf("List(%+v) = %+v, want the one container at %s", sel, got, addr)
		}
	}
	if got, err := eng.List(ctx, Selector{Labels: map[string]string{"faultline.testrun": run}, Names: []string{"nope"}}); err != nil || len(got) != 0 {
		t.Errorf("List(label and wrong name) = %+v, %v; want nothing", got, err)
	}

	if err := eng.Pause(ctx, id); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	waitState(t, eng, id, "paused")
	if err := eng.Unpause(ctx, id); err != nil {
		t.Fatalf("Unpause: %v", err)
	}
	waitState(t, eng, id, "running")
	waitHTTP(t, "http://"+addr+"/healthz")

	if err := eng.Kill(ctx, id, "SIGKILL"); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	waitState(t, eng, id, "exited")
	if err := eng.Start(ctx, id); err != nil {
		t.Fatalf("Start: %v", err)
	}
	info = waitState(t, eng, id, "running")
	waitHTTP(t, "http://"+info.Ports[8080]+"/healthz")

	if err := eng.Restart(ctx, id, time.Second); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	info = waitState(t, eng, id, "running")
	waitHTTP(t, "http://"+info.Ports[8080]+"/healthz")

	if err := eng.Stop(ctx, id, 5*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	waitState(t, eng, id, "exited")
	if logs, err := eng.Logs(ctx, id, 50); err != nil || !strings.Contains(logs, "store") {
		t.Errorf("Logs = %q, %v; want the service's log lines", logs, err)
	}

	if err := eng.RemoveByLabel(ctx, "faultline.testrun", run); err != nil {
		t.Fatalf("RemoveByLabel: %v", err)
	}
	c, n, i, err := eng.CountByLabel(ctx, "faultline.testrun", run)
	if err != nil || c+n+i != 0 {
		t.Errorf("after RemoveByLabel: %d containers, %d networks, %d images (%v)", c, n, i, err)
	}
	if _, err := eng.Inspect(ctx, id); !IsNotFound(err) {
		t.Errorf("Inspect after removal: %v, want not found", err)
	}
}

func TestEngineErrors(t *testing.T) {
	t.Parallel()
	eng := connect(t)
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"empty selector", func() error { _, err := eng.List(ctx, Selector{}); return err }, "empty selector"},
		{"bad regex", func() error { _, err := eng.List(ctx, Selector{NameRegex: "("}); return err }, "name regex"},
		{"public port", func() error {
			_, err := eng.RunContainer(ctx, ContainerSpec{Image: "x", Ports: []PortBinding{{ContainerPort: 80, HostIP: "0.0.0.0"}}})
			return err
		}, "only loopback"},
		{"bad port", func() error {
			_, err := eng.RunContainer(ctx, ContainerSpec{Image: "x", Ports: []PortBinding{{ContainerPort: 0}}})
			return err
		}, "out of range"},
		{"no image", func() error { _, err := eng.RunContainer(ctx, ContainerSpec{Name: "x"}); return err }, "image is empty"},
		{"missing container", func() error { return eng.Kill(ctx, "faultline-no-such-container", "") }, "faultline-no-such-container"},
		{"missing image file", func() error {
			_, err := eng.BuildImage(ctx, ImageSpec{Tag: "faultline-test/none:x", Files: []ImageFile{{HostPath: "/no/such/file", ImagePath: "/f"}}})
			return err
		}, "/no/such/file"},
		{"relative image path", func() error {
			_, err := eng.BuildImage(ctx, ImageSpec{Tag: "faultline-test/none:x", Files: []ImageFile{{HostPath: os.Args[0], ImagePath: "f"}}})
			return err
		}, "must be absolute"},
		{"remove by empty label", func() error { return eng.RemoveByLabel(ctx, "", "") }, "label key is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	if err := eng.RemoveContainer(ctx, "faultline-no-such-container"); err != nil {
		t.Errorf("RemoveContainer(missing) = %v, want nil", err)
	}
	if err := eng.RemoveNetwork(ctx, "faultline-no-such-network"); err != nil {
		t.Errorf("RemoveNetwork(missing) = %v, want nil", err)
	}
}

// TestConnectNamesHost checks that a missing engine is reported with the
// socket that was tried. It sets DOCKER_HOST, so it cannot run in parallel.
func TestConnectNamesHost(t *testing.T) {
	sock := t.TempDir() + "/no-docker.sock"
	t.Setenv("DOCKER_HOST", "unix://"+sock)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	eng, err := Connect(ctx)
	if err == nil {
		eng.Close()
		t.Fatal("Connect succeeded with no engine")
	}
	if !strings.Contains(err.Error(), sock) {
		t.Errorf("error %q does not name %s", err, sock)
	}
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	got, err := dockerfileFor(ImageSpec{
		Files:      []ImageFile{{HostPath: "/tmp/a b", ImagePath: "/usr/bin/a b"}, {HostPath: "x", ImagePath: "/x"}},
		Entrypoint: []string{"/usr/bin/a b", "--flag"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "FROM scratch\nCOPY [\"file0\", \"/usr/bin/a b\"]\nCOPY [\"file1\", \"/x\"]\nENTRYPOINT [\"/usr/bin/a b\",\"--flag\"]\n"
	if got != want {
		t.Errorf("dockerfile:\n%s\nwant:\n%s", got, want)
	}
}

func TestReadBuildStream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, stream, wantID, wantErr string
	}{
		{"aux id", `{"stream":"Step 1/2 : FROM scratch\n"}{"aux":{"ID":"sha256:abc"}}{"stream":"Successfully built abc\n"}`, "sha256:abc", ""},
		{"no id", `{"stream":"Successfully built abc\n"}`, "", ""},
		{"error", `{"stream":"Step 2/3 : COPY file0 /x\n"}{"errorDetail":{"message":"COPY failed: no such file"},"error":"COPY failed: no such file"}`, "", "COPY failed: no such file (after: Step 2/3 : COPY file0 /x)"},
		{"garbage", `{"stream":`, "", "read build output"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, err := readBuildStream(strings.NewReader(tt.stream))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || id != tt.wantID {
				t.Errorf("readBuildStream = %q, %v; want %q", id, err, tt.wantID)
			}
		})
	}
}

func TestPickBindingAndSelectors(t *testing.T) {
	t.Parallel()
	if got := pickBinding([]nat.PortBinding{{HostIP: "::1", HostPort: "2"}, {HostIP: "127.0.0.1", HostPort: "1"}}); got != "127.0.0.1:1" {
		t.Errorf("pickBinding prefers IPv4: got %q", got)
	}
	if got := pickBinding([]nat.PortBinding{{HostIP: "::1", HostPort: "2"}}); got != "[::1]:2" {
		t.Errorf("pickBinding IPv6 only: got %q", got)
	}
	if got := pickBinding(nil); got != "" {
		t.Errorf("pickBinding(nil) = %q", got)
	}
	info := ContainerInfo{ID: "0123456789abcdef", Name: "shop-catalog"}
	tests := []struct {
		sel  Selector
		want bool
	}{
		{Selector{Labels: map[string]string{"a": "b"}}, true},
		{Selector{Names: []string{"shop-catalog"}}, true},
		{Selector{Names: []string{"shop"}}, false},
		{Selector{Names: []string{"0123456789ab"}}, true},
		{Selector{Names: []string{"0123"}}, false},
		{Selector{NameRegex: "catalog$"}, true},
		{Selector{NameRegex: "^catalog"}, false},
	}
	for _, tt := range tests {
		var re = compileOrNil(t, tt.sel.NameRegex)
		if got := matchesNames(tt.sel, re, info); got != tt.want {
			t.Errorf("matchesNames(%+v) = %v, want %v", tt.sel, got, tt.want)
		}
	}
	if o := stopOptions(0); o.Timeout != nil {
		t.Errorf("stopOptions(0) sets a timeout")
	}
	if o := stopOptions(1500 * time.Millisecond); o.Timeout == nil || *o.Timeout != 2 {
		t.Errorf("stopOptions(1.5s) = %v, want 2 s", o.Timeout)
	}
}

func compileOrNil(t *testing.T, expr string) *regexp.Regexp {
	t.Helper()
	if expr == "" {
		return nil
	}
	return regexp.MustCompile(expr)
}

// TestConcurrentRemovalsBothSucceed removes the same running container from
// three goroutines at once, as two `chaos cleanup` runs may: the engine
// refuses all but one with "removal ... is already in progress", and each
// RemoveContainer must wait for that removal instead of failing.
func TestConcurrentRemovalsBothSucceed(t *testing.T) {
	t.Parallel()
	eng, labels, run, imageID := labelledImage(t, "remove")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for round := range 4 {
		id, err := eng.RunContainer(ctx, ContainerSpec{
			Name:   fmt.Sprintf("faultline-test-%s-rm%d", run, round),
			Image:  imageID,
			Cmd:    []string{"targets", "serve", "store", "--listen", ":8080"},
			Labels: labels,
		})
		if err != nil {
			t.Fatalf("RunContainer: %v", err)
		}
		waitState(t, eng, id, "running")
		errs := make(chan error, 3)
		for range 3 {
			go func() { errs <- eng.RemoveContainer(ctx, id) }()
		}
		for range 3 {
			if err := <-errs; err != nil {
				t.Errorf("round %d: RemoveContainer beside two others: %v", round, err)
			}
		}
		if _, err := eng.Inspect(ctx, id); !IsNotFound(err) {
			t.Errorf("round %d: container still there after the removals (inspect: %v)", round, err)
		}
	}
}
