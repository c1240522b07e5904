package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/internal/testenv"
)

// chaosServer starts a Toxiproxy server in the test process with one proxy,
// db, and returns its URL. To the faultline processes a test starts, it is
// an external server.
func chaosServer(t *testing.T) string {
	t.Helper()
	tp, err := chaos.StartToxiproxy(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tp.Close(); err != nil {
			t.Error(err)
		}
	})
	if _, err := chaos.CreateProxy(context.Background(), tp.URL(), "db", "127.0.0.1:0", "127.0.0.1:9"); err != nil {
		t.Fatal(err)
	}
	return tp.URL()
}

// proxyOn returns how the server at url reports the proxy name: its
// toxics, and whether it is enabled.
func proxyOn(t *testing.T, url, name string) (toxics int, enabled bool) {
	t.Helper()
	servers := chaos.ReadServers(context.Background(), []string{url})
	if servers[0].Err != nil {
		t.Fatal(servers[0].Err)
	}
	for _, p := range servers[0].Proxies {
		if p.Name == name {
			return len(p.ActiveToxics), p.Enabled
		}
	}
	t.Fatalf("no proxy %s at %s", name, url)
	return 0, false
}

// toxicsOn returns how many toxics the db proxy has.
func toxicsOn(t *testing.T, url string) int {
	t.Helper()
	n, _ := proxyOn(t, url, "db")
	return n
}

func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestChaosCLIExitCodes(t *testing.T) {
	t.Parallel()
	url := chaosServer(t)
	dead := deadURL(t)
	cases := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{"unknown kind lists the valid ones", []string{"inject", "latensy", "--proxy", "db", "--latency", "1s"}, 2, nil, []string{"did you mean latency?", "valid kinds are " + strings.Join(chaos.Kinds(), ", ")}},
		{"no kind", []string{"inject"}, 2, nil, []string{"inject needs a fault kind"}},
		{"crash is for experiments", []string{"inject", "crash"}, 2, nil, []string{"cannot be injected from the command line"}},
		{"missing field", []string{"inject", "latency", "--proxy", "db"}, 2, nil, []string{"latency is required"}},
		{"bad flag value", []string{"inject", "bandwidth", "--proxy", "db", "--rate", "fast"}, 2, nil, []string{"rate \"fast\""}},
		{"bad mode", []string{"kill", "--label", "a=b", "--mode", "percent"}, 2, nil, []string{"mode percent needs value"}},
		{"unknown proxy", []string{"inject", "latency", "--proxy", "cache", "--latency", "1s", "--toxiproxy-url", url}, 5, nil, []string{`proxy "cache" not found at toxiproxy ` + url, "proxies there: db"}},
		{"toxiproxy unreachable", []string{"inject", "down", "--proxy", "db", "--toxiproxy-url", dead}, 5, nil, []string{"toxiproxy unreachable at " + dead}},
		{"embedded starts empty", []string{"inject", "latency", "--proxy", "db", "--latency", "1s", "--for", "1s"}, 5, nil, []string{"the embedded server starts empty"}},
		{"dry run touches nothing", []string{"inject", "latency", "--proxy", "db", "--latency", "1s", "--toxiproxy-url", url, "--dry-run"}, 0, []string{"dry run: would inject latency 1s downstream on proxy db"}, nil},
		{"dry run on the embedded server", []string{"inject", "timeout", "--proxy", "db", "--upstream", "127.0.0.1:9", "--dry-run"}, 0, []string{"would inject timeout (blackhole)", "embedded toxiproxy", "started for this command"}, nil},
		{"held on the embedded server", []string{"inject", "latency", "--proxy", "web", "--upstream", "127.0.0.1:9", "--latency", "5ms", "--for", "200ms"}, 0, []string{"injected latency 5ms", "reverted latency 5ms", "deleted proxy web"}, nil},
		{"http delay dry run", []string{"inject", "http_delay", "--proxy", "db", "--path", "/api/products/{id}", "--delay", "200ms", "--jitter", "50ms", "--toxiproxy-url", url, "--dry-run"}, 0, []string{"dry run: would inject http_delay delay 200ms ±50ms for 100% of any method /api/products/{id} on proxy db"}, nil},
		{"http fault dry run", []string{"inject", "http_abort", "--proxy", "db", "--method", "POST", "--path", "/api/orders/{id}", "--percent", "10", "--seed", "7", "--toxiproxy-url", url, "--dry-run"}, 0, []string{"dry run: would inject http_abort 503 for 10% of POST /api/orders/{id} on proxy db", "seed 7"}, nil},
		{"http fault held", []string{"inject", "http_delay", "--proxy", "web", "--upstream", "127.0.0.1:9", "--delay", "5ms", "--for", "200ms"}, 0, []string{"injected http_delay delay 5ms for 100% of any method any path", "reverted http_delay", "touched 0 of 0 matching requests"}, nil},
		{"http fault bad path", []string{"inject", "http_abort", "--proxy", "db", "--path", "/a/{id...}/b", "--percent", "0"}, 2, nil, []string{"must be the last segment", "percent 0"}},
		{"http fault held without --for on an external server", []string{"inject", "http_abort", "--proxy", "nope", "--toxiproxy-url", url}, 5, nil, []string{`proxy "nope" not found`}},
		{"proxy create needs a server", []string{"proxy", "create", "x", "--upstream", "127.0.0.1:9"}, 2, nil, []string{"give --toxiproxy-url"}},
		{"proxy list", []string{"proxy", "list", "--toxiproxy-url", url}, 0, []string{"proxy db  127.0.0.1:"}, nil},
		// --ledger names a file that was never written: not "clean".
		{"status of a named ledger never written", []string{"status"}, 2, nil, []string{"does not exist"}},
		{"cleanup of a named ledger never written", []string{"cleanup"}, 2, nil, []string{"does not exist"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ledger := filepath.Join(t.TempDir(), "ledger.jsonl")
			code, stdout, stderr := runCLI(t, append(append([]string{"chaos"}, tc.args...), "--ledger", ledger)...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, stdout, stderr)
			}
			for _, w := range tc.wantStdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout %q does not contain %q", stdout, w)
				}
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not contain %q", stderr, w)
				}
			}
			if tc.wantCode != 0 || strings.Contains(tc.name, "dry run") {
				if l, err := chaos.OpenLedger(ledger); err == nil {
					if active, _ := l.Active(); len(active) != 0 {
						t.Errorf("%d faults in the ledger; nothing should be injected", len(active))
					}
				}
			}
		})
	}
	if n := toxicsOn(t, url); n != 0 {
		t.Fatalf("%d toxics left on db", n)
	}
}

// TestChaosCLIDetachedThenCleanup injects without --for against a server
// that outlives the command, checks status, and cleans up; then a cleanup
// that cannot reach the server exits 6 naming what may still be faulted.
func TestChaosCLIDetachedThenCleanup(t *testing.T) {
	t.Parallel()
	url := chaosServer(t)
	ledger := filepath.Join(t.TempDir(), "ledger.jsonl")
	chaosCLI := func(args ...string) (int, string, string) {
		return runCLI(t, append(append([]string{"chaos"}, args...), "--ledger", ledger, "--toxiproxy-url", url)...)
	}
	if code, out, errs := chaosCLI("proxy", "create", "cache", "--upstream", "127.0.0.1:9"); code != 0 || !strings.Contains(out, "proxy cache listening on 127.0.0.1:") {
		t.Fatalf("proxy create: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := chaosCLI("inject", "latency", "--proxy", "db", "--latency", "300ms", "--jitter", "10ms"); code != 0 || !strings.Contains(out, "it stays until") {
		t.Fatalf("inject: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := chaosCLI("inject", "down", "--proxy", "cache"); code != 0 {
		t.Fatalf("inject down: exit %d\n%s", code, errs)
	}
	code, out, _ := chaosCLI("status")
	if code != 0 || !strings.Contains(out, "2 active fault(s)") || !strings.Contains(out, "latency=300") || !strings.Contains(out, "(in the ledger)") || !strings.Contains(out, "DISABLED") {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
	if code, out, errs := chaosCLI("cleanup"); code != 0 || strings.Count(out, "reverted") != 2 {
		t.Fatalf("cleanup: exit %d\n%s%s", code, out, errs)
	}
	if n := toxicsOn(t, url); n != 0 {
		t.Fatalf("%d toxics after cleanup", n)
	}
	if _, enabled := proxyOn(t, url, "cache"); !enabled {
		t.Fatal("proxy cache still disabled after cleanup")
	}
	if code, out, _ := chaosCLI("proxy", "delete", "cache"); code != 0 || !strings.Contains(out, "deleted") {
		t.Fatalf("proxy delete: exit %d %s", code, out)
	}

	// A fault on a server that then goes away cannot be reverted: exit 6.
	gone, err := chaos.StartToxiproxy(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chaos.CreateProxy(context.Background(), gone.URL(), "db", "127.0.0.1:0", "127.0.0.1:9"); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, "chaos", "inject", "timeout", "--proxy", "db", "--ledger", ledger, "--toxiproxy-url", gone.URL()); code != 0 {
		t.Fatalf("inject: exit %d %s", code, errs)
	}
	gone.Close()
	code, out, errs := runCLI(t, "chaos", "cleanup", "--ledger", ledger)
	if code != 6 || !strings.Contains(out, "REVERT FAILED timeout") || !strings.Contains(errs, "may still be active") || !strings.Contains(errs, "toxiproxy unreachable at "+gone.URL()) {
		t.Fatalf("cleanup with the server gone: exit %d, want 6\nstdout: %s\nstderr: %s", code, out, errs)
	}
	if code, out, _ := runCLI(t, "chaos", "status", "--ledger", ledger); code != 0 || !strings.Contains(out, "last revert failed") {
		t.Fatalf("status after a failed cleanup: exit %d\n%s", code, out)
	}
}

// cliFault is a fault kind the signal tests inject on the db proxy with
// `faultline chaos inject`, and how they see it in effect.
type cliFault struct {
	kind    string
	args    []string
	faulted func(t *testing.T, url string) bool
}

// cliFaults are the kinds the signal tests run: a toxic, and the HTTP
// faults, whose HTTP proxy lives in the injecting process.
var cliFaults = []cliFault{
	{"latency", []string{"latency", "--proxy", "db", "--latency", "200ms"}, func(t *testing.T, url string) bool { return toxicsOn(t, url) > 0 }},
	{"http_abort", []string{"http_abort", "--proxy", "db", "--method", "POST", "--percent", "10"}, func(t *testing.T, url string) bool { return dbUpstream(t, url) != "127.0.0.1:9" }},
	{"http_delay", []string{"http_delay", "--proxy", "db", "--delay", "100ms"}, func(t *testing.T, url string) bool { return dbUpstream(t, url) != "127.0.0.1:9" }},
}

// dbUpstream is the upstream of the db proxy: an HTTP fault points it at
// its HTTP proxy.
func dbUpstream(t *testing.T, url string) string {
	t.Helper()
	p, err := toxiproxy.NewClient(url).Proxy("db")
	if err != nil {
		t.Fatal(err)
	}
	return p.Upstream
}

// startInject runs `faultline chaos inject` of f as a process and waits
// until the fault is in effect on the server.
func startInject(t *testing.T, url, ledger string, f cliFault) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	bin := testenv.BuildFaultline(t)
	cmd := exec.Command(bin, append(append([]string{"chaos", "inject"}, f.args...), "--for", "60s", "--toxiproxy-url", url, "--ledger", ledger)...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for !f.faulted(t, url) {
		if time.Now().After(deadline) {
			t.Fatalf("%s not in effect after 20s\n%s", f.kind, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cmd, out
}

// syncBuffer is a bytes.Buffer a process writes to while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func exitCodeOf(t *testing.T, err error) int {
	t.Helper()
	var exit *exec.ExitError
	if err == nil {
		return 0
	}
	if !errors.As(err, &exit) {
		t.Fatalf("wait: %v", err)
	}
	if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -int(ws.Signal())
	}
	return exit.ExitCode()
}

func TestChaosInjectSIGINTReverts(t *testing.T) {
	t.Parallel()
	for _, f := range cliFaults {
		t.Run(f.kind, func(t *testing.T) {
			t.Parallel()
			url := chaosServer(t)
			ledger := filepath.Join(t.TempDir(), "ledger.jsonl")
			cmd, out := startInject(t, url, ledger, f)
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			if code := exitCodeOf(t, cmd.Wait()); code != 130 {
				t.Fatalf("exit %d after SIGINT, want 130\n%s", code, out.String())
			}
			if f.faulted(t, url) {
				t.Fatalf("%s still in effect after SIGINT\n%s", f.kind, out.String())
			}
			if !strings.Contains(out.String(), "reverted "+f.kind) {
				t.Fatalf("no revert reported:\n%s", out.String())
			}
			l, _ := chaos.OpenLedger(ledger)
			if active, _ := l.Active(); len(active) != 0 {
				t.Fatalf("%d faults active in the ledger after SIGINT", len(active))
			}
		})
	}
}

func TestChaosInjectSIGKILLThenCleanup(t *testing.T) {
	t.Parallel()
	for _, f := range cliFaults {
		t.Run(f.kind, func(t *testing.T) {
			t.Parallel()
			url := chaosServer(t)
			ledger := filepath.Join(t.TempDir(), "ledger.jsonl")
			cmd, out := startInject(t, url, ledger, f)
			cmd.Process.Kill()
			if code := exitCodeOf(t, cmd.Wait()); code != -int(syscall.SIGKILL) {
				t.Fatalf("exit %d, want killed\n%s", code, out.String())
			}
			if !f.faulted(t, url) {
				t.Fatalf("%s not left behind by SIGKILL", f.kind)
			}
			cleanup := exec.Command(testenv.BuildFaultline(t), "chaos", "cleanup", "--ledger", ledger)
			cleanupOut, err := cleanup.CombinedOutput()
			if code := exitCodeOf(t, err); code != 0 {
				t.Fatalf("cleanup exit %d\n%s", code, cleanupOut)
			}
			if f.faulted(t, url) {
				t.Fatalf("%s still in effect after cleanup\n%s", f.kind, cleanupOut)
			}
			if !strings.Contains(string(cleanupOut), "reverted "+f.kind) {
				t.Fatalf("cleanup output:\n%s", cleanupOut)
			}
		})
	}
}

// TestChaosEmbeddedSIGKILLThenCleanup: the fault lived in the killed
// process's embedded server, so cleanup has nothing to do but say so.
func TestChaosEmbeddedSIGKILLThenCleanup(t *testing.T) {
	t.Parallel()
	bin := testenv.BuildFaultline(t)
	ledger := filepath.Join(t.TempDir(), "ledger.jsonl")
	cmd := exec.Command(bin, "chaos", "inject", "latency", "--proxy", "web", "--upstream", "127.0.0.1:9", "--latency", "1s", "--for", "60s", "--ledger", ledger)
	out := &syncBuffer{}
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	l, err := chaos.OpenLedger(ledger)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "injected") {
		if time.Now().After(deadline) {
			t.Fatal("not injected after 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if active, _ := l.Active(); len(active) != 1 {
		t.Fatalf("%d active after SIGKILL, want 1", len(active))
	}
	cleanupOut, err := exec.Command(bin, "chaos", "cleanup", "--ledger", ledger).CombinedOutput()
	if code := exitCodeOf(t, err); code != 0 || !strings.Contains(string(cleanupOut), "ended with pid "+strconv.Itoa(cmd.Process.Pid)) {
		t.Fatalf("cleanup exit %d\n%s", code, cleanupOut)
	}
}

func TestChaosDockerUnreachable(t *testing.T) {
	t.Parallel()
	bin := testenv.BuildFaultline(t)
	ledger := filepath.Join(t.TempDir(), "ledger.jsonl")
	sock := filepath.Join(t.TempDir(), "no-docker.sock")
	cmd := exec.Command(bin, "chaos", "kill", "--label", "faultline.service=catalog", "--ledger", ledger)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+sock)
	out, err := cmd.CombinedOutput()
	if code := exitCodeOf(t, err); code != 5 || !strings.Contains(string(out), "unix://"+sock) {
		t.Fatalf("exit %d, want 5 naming the socket\n%s", code, out)
	}
}

// TestChaosToxiproxyServe runs the embedded server alone, uses it as an
// external server, and stops it with SIGTERM: it closes its proxies and
// exits 0.
func TestChaosToxiproxyServe(t *testing.T) {
	t.Parallel()
	bin := testenv.BuildFaultline(t)
	cmd := exec.Command(bin, "chaos", "toxiproxy", "serve", "--listen", "127.0.0.1:0")
	out := &syncBuffer{}
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	var url string
	for {
		if line, ok := strings.CutPrefix(out.String(), "toxiproxy API on "); ok {
			url = strings.TrimSpace(line)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no API address after 20s: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	p, err := chaos.CreateProxy(context.Background(), url, "db", "127.0.0.1:0", "127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	ledger := filepath.Join(t.TempDir(), "ledger.jsonl")
	if code, _, errs := runCLI(t, "chaos", "inject", "reset_peer", "--proxy", "db", "--toxiproxy-url", url, "--ledger", ledger, "--for", "10ms"); code != 0 {
		t.Fatalf("inject through the served API: exit %d %s", code, errs)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitCodeOf(t, cmd.Wait()); code != 0 {
		t.Fatalf("exit %d after SIGTERM, want 0", code)
	}
	if c, err := net.DialTimeout("tcp", p.Listen, time.Second); err == nil {
		c.Close()
		t.Fatalf("proxy %s still listens after the server stopped", p.Listen)
	}
}

// TestChaosToxiproxyServeSetup starts the server with a proxy and a toxic
// from the command line (what the service_* faults run in a pod): the
// proxy exists, with the toxic, when the server says it is ready.
func TestChaosToxiproxyServeSetup(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--toxic", `{"type":"latency"}`}, "--toxic needs --proxy"},
		{[]string{"--proxy", "web=127.0.0.1:0"}, "want NAME=LISTEN=UPSTREAM"},
		{[]string{"--proxy", "web=127.0.0.1:0=127.0.0.1:9", "--toxic", `{"kind":"latency"}`}, "--toxic"},
	} {
		code, _, errs := runCLI(t, append([]string{"chaos", "toxiproxy", "serve", "--listen", "127.0.0.1:0"}, tc.args...)...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d %q, want 2 and %q", tc.args, code, errs, tc.want)
		}
	}
	bin := testenv.BuildFaultline(t)
	cmd := exec.Command(bin, "chaos", "toxiproxy", "serve", "--listen", "127.0.0.1:0",
		"--proxy", "web=127.0.0.1:0=127.0.0.1:9", "--toxic", `{"type":"latency","stream":"upstream","attributes":{"latency":250}}`)
	out := &syncBuffer{}
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	var url string
	for {
		if line, ok := strings.CutPrefix(out.String(), "toxiproxy API on "); ok {
			url = strings.TrimSpace(line)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no API address after 20s: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	c, err := chaos.ConnectToxiproxy(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Proxy("web")
	if err != nil {
		t.Fatal(err)
	}
	toxics, err := p.Toxics()
	if err != nil {
		t.Fatal(err)
	}
	if p.Upstream != "127.0.0.1:9" || len(toxics) != 1 || toxics[0].Type != "latency" || toxics[0].Stream != "upstream" || toxics[0].Attributes["latency"] != float64(250) {
		t.Errorf("proxy %+v with toxics %+v", p, toxics)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitCodeOf(t, cmd.Wait()); code != 0 {
		t.Fatalf("exit %d after SIGTERM, want 0", code)
	}
}
