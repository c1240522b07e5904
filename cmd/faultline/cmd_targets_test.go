package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/chaos/docker"
	"github.com/faultline-dev/faultline/internal/testenv"
)

// lockedBuffer is written by a running command while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func runTargets(ctx context.Context, args []string, vars map[string]string, stdout, stderr io.Writer) int {
	return run(ctx, append([]string{"targets"}, args...), &env{stdout: stdout, stderr: stderr, getenv: func(k string) string { return vars[k] }})
}

func TestTargetsBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	unknownField := filepath.Join(dir, "unknown.yaml")
	os.WriteFile(unknownField, []byte("targets:\n  store:\n    pool:\n      sise: 3\n"), 0o644)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Close() })
	_, port, _ := net.SplitHostPort(taken.Addr().String())

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown service in --only", []string{"up", "--only", "store,cart"}, 2, `unknown service "cart"`},
		{"negative size", []string{"up", "--set", "catalog.cache.max_entries=-5"}, 2, "targets.catalog.cache.max_entries: must be > 0 (got -5)"},
		{"p99 below median", []string{"up", "--set", "store.service_time.median=20ms", "--set", "store.service_time.p99=5ms"}, 2, "targets.store.service_time.p99: must be >= median (20ms)"},
		{"unknown --set field", []string{"up", "--set", "store.pool.sise=3"}, 2, `unknown field "sise"`},
		{"missing config file", []string{"up", "--config", filepath.Join(dir, "missing.yaml")}, 2, "missing.yaml"},
		{"unknown field in file", []string{"up", "--config", unknownField}, 2, "sise"},
		{"missing upstream", []string{"up", "--only", "catalog"}, 2, "catalog needs store"},
		{"unknown link", []string{"up", "--upstream", "store->catalog=127.0.0.1:1"}, 2, "unknown link"},
		{"bad --listen", []string{"up", "--listen", "store"}, 2, "want name=value"},
		{"negative --for", []string{"up", "--for", "-1s"}, 2, "--for"},
		{"--listen with --docker", []string{"up", "--docker", "--listen", "store=127.0.0.1:0"}, 2, "do not apply with --docker"},
		{"--image without --docker", []string{"up", "--image", "x"}, 2, "need --docker"},
		{"--namespace without --kubernetes", []string{"up", "--namespace", "x"}, 2, "need --kubernetes"},
		{"--docker with --kubernetes", []string{"up", "--kubernetes", "--docker"}, 2, "do not apply with --kubernetes"},
		{"replicas of no service", []string{"up", "--kubernetes", "--replicas", "web=2"}, 2, `--replicas: unknown service "web"`},
		{"replicas not a number", []string{"up", "--kubernetes", "--replicas", "catalog=two"}, 2, "want a whole number"},
		{"down without --kubernetes", []string{"down"}, 2, "give --kubernetes"},
		{"down with a missing kubeconfig", []string{"down", "--kubernetes", "--kubeconfig", filepath.Join(dir, "missing")}, 5, "kubeconfig " + filepath.Join(dir, "missing")},
		{"port taken", []string{"up", "--only", "store", "--listen", "store=" + taken.Addr().String()}, 5, "port " + port + " is already in use"},
		{"serve unknown service", []string{"serve", "cart"}, 2, `unknown service "cart"`},
		{"serve without upstream", []string{"serve", "catalog"}, 2, "catalog needs store"},
		{"serve bad upstream", []string{"serve", "catalog", "--upstream", "store=ftp://x:1"}, 2, "scheme must be http"},
		{"serve without name", []string{"serve"}, 2, "accepts 1 arg"},
		{"image from a non-executable", []string{"image", "--binary", unknownField}, 2, "not a Linux executable"},
		{"up --docker from a non-executable", []string{"up", "--docker", "--binary", unknownField}, 2, "not a Linux executable"},
		{"config with a bad value", []string{"config", "--set", "gateway.rate_limit.rate=100"}, 2, "want N/s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			code := runTargets(context.Background(), tt.args, nil, &out, &errb)
			if code != tt.code || !strings.Contains(errb.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errb.String(), tt.code, tt.want)
			}
			if tt.code == 2 && strings.Count(errb.String(), "faultline:") != 1 {
				t.Errorf("stderr %q: want the error printed once", errb.String())
			}
		})
	}
}

var gatewayRow = regexp.MustCompile(`(?m)^gateway\s+(127\.0\.0\.1:\d+)\s+http://127\.0\.0\.1:\d+$`)

// TestTargetsUpUntilInterrupted starts the shop, uses it, interrupts it and
// expects exit 130 with everything stopped.
func TestTargetsUpUntilInterrupted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb lockedBuffer
	done := make(chan int, 1)
	go func() { done <- runTargets(ctx, []string{"up", "--set", "seed=3"}, nil, &out, &errb) }()
	var addr string
	deadline := time.Now().Add(10 * time.Second)
	for addr == "" {
		if m := gatewayRow.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("up exited %d early: %s %s", code, out.String(), errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no table within 10s: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, svc := range []string{"store", "catalog", "orders", "gateway"} {
		if !strings.Contains(out.String(), "\n"+svc+" ") {
			t.Errorf("table lacks %s:\n%s", svc, out.String())
		}
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + addr + "/api/products/p007")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Product 007") {
		t.Errorf("GET p007 through the gateway = %d %s", resp.StatusCode, body)
	}
	cancel()
	select {
	case code := <-done:
		if code != 130 {
			t.Errorf("exit %d after interrupt, want 130 (stderr %q)", code, errb.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("up did not stop within 15s of the interrupt")
	}
	tr.CloseIdleConnections()
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Error("gateway still listening after up returned")
	}
}

func TestTargetsUpFor(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	code := runTargets(context.Background(), []string{"up", "--only", "store,catalog", "--for", "200ms"}, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "SERVICE") || !strings.HasPrefix(lines[1], "store ") || !strings.HasPrefix(lines[2], "catalog ") {
		t.Errorf("table:\n%s", out.String())
	}
}

// TestTargetsServe runs one service alone with its config from the
// environment, as a container does.
func TestTargetsServe(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb lockedBuffer
	env := map[string]string{"FAULTLINE_TARGETS_CONFIG": "targets:\n  store:\n    products: 3\n"}
	done := make(chan int, 1)
	go func() {
		done <- runTargets(ctx, []string{"serve", "store", "--set", "store.service_time.enabled=false"}, env, &out, &errb)
	}()
	re := regexp.MustCompile(`store listening on (http://127\.0\.0\.1:\d+)`)
	var url string
	deadline := time.Now().Add(10 * time.Second)
	for url == "" {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("serve printed %q %q", out.String(), errb.String())
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
	tr := &http.Transport{}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := client.Get(url + "/kv?prefix=product:")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	tr.CloseIdleConnections()
	if n := strings.Count(string(body), `"key":"product:`); n != 3 {
		t.Errorf("store seeded %d products, want 3 from the environment's config: %s", n, body)
	}
	cancel()
	if code := <-done; code != 130 {
		t.Errorf("serve exit %d after interrupt, want 130", code)
	}
}

func TestTargetsConfig(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	if code := runTargets(context.Background(), []string{"config", "--set", "seed=5", "--set", "catalog.cache.ttl=3s"}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"targets:\n", "  seed: 5\n", "      ttl: 3s\n", "      rate: 1000/s\n", "      p99: 20ms\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("config output lacks %q:\n%s", want, out.String())
		}
	}
	// The printed config is a valid --config file.
	file := filepath.Join(t.TempDir(), "shop.yaml")
	os.WriteFile(file, out.Bytes(), 0o644)
	var again bytes.Buffer
	if code := runTargets(context.Background(), []string{"config", "--config", file}, nil, &again, &errb); code != 0 || again.String() != out.String() {
		t.Errorf("round trip: exit %d\n%s\nvs\n%s", code, again.String(), out.String())
	}
}

func TestTargetsImage(t *testing.T) {
	t.Parallel()
	testenv.Docker(t)
	bin := testenv.BuildFaultline(t)
	var b [6]byte
	rand.Read(b[:])
	tag := "faultline-test/cli:" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		eng, err := docker.Connect(ctx)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		defer eng.Close()
		if err := eng.RemoveImage(ctx, tag); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	var out, errb bytes.Buffer
	code := runTargets(context.Background(), []string{"image", "--binary", bin, "--tag", tag}, nil, &out, &errb)
	if code != 0 || !strings.HasPrefix(out.String(), tag+" sha256:") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}
