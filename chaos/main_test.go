package chaos

import (
	"bufio"
	"context"
	"fmt"
	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m, stopExternalToxiproxy, removeTestImages) }

// backend is a TCP server on loopback for faults to act on. Each line it
// reads is answered: "bytes N" with N bytes of 'x', anything else echoed.
type backend struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]bool
}

func startBackend(t *testing.T) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{ln: ln, conns: map[net.Conn]bool{}}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns[c] = true
			b.mu.Unlock()
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				b.serve(c)
			}()
		}
	}()
	t.Cleanup(b.close)
	return b
}

func (b *backend) addr() string { return b.ln.Addr().String() }

func (b *backend) serve(c net.Conn) {
	defer func() {
		c.Close()
		b.mu.Lock()
		delete(b.conns, c)
		b.mu.Unlock()
	}()
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if n, ok := strings.CutPrefix(strings.TrimSpace(line), "bytes "); ok {
			size, _ := strconv.Atoi(n)
			chunk := []byte(strings.Repeat("x", 32*1024))
			for size > 0 {
				k := min(size, len(chunk))
				if _, err := c.Write(chunk[:k]); err != nil {
					return
				}
				size -= k
			}
			continue
		}
		if _, err := io.WriteString(c, line); err != nil {
			return
		}
	}
}

func (b *backend) close() {
	b.ln.Close()
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// roundTrip dials addr, sends one line and reads the answer, returning
// the time from write to answer.
func roundTrip(addr string, timeout time.Duration) (time.Duration, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	start := time.Now()
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		return 0, err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return 0, err
	}
	if line != "ping\n" {
		return 0, fmt.Errorf("answer %q", line)
	}
	return time.Since(start), nil
}

// toxiServerUnderTest is a Toxiproxy server a test runs faults against.
type toxiServerUnderTest struct {
	name     string
	url      string
	embedded bool
}

// toxiproxyServers returns an embedded server (closed when the test ends)
// and the shared external server process.
func toxiproxyServers(t *testing.T) []toxiServerUnderTest {
	t.Helper()
	emb, err := StartToxiproxy(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := emb.Close(); err != nil {
			t.Errorf("close embedded toxiproxy: %v", err)
		}
	})
	return []toxiServerUnderTest{
		{name: "embedded", url: emb.URL(), embedded: true},
		{name: "external", url: externalToxiproxy(t)},
	}
}

var external struct {
	once sync.Once
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
	url  string
	err  error
}

// externalToxiproxy builds Toxiproxy's own server command from the module
// cache, once per test process, and runs it on a free loopback port; the
// process is stopped by TestMain.
func externalToxiproxy(t *testing.T) string {
	t.Helper()
	external.once.Do(func() {
		external.dir, external.err = os.MkdirTemp("", "faultline-toxiproxy-")
		if external.err != nil {
			return
		}
		bin := filepath.Join(external.dir, "toxiproxy-server")
		build := exec.Command("go", "build", "-o", bin, "github.com/Shopify/toxiproxy/v2/cmd/server")
		if out, err := build.CombinedOutput(); err != nil {
			external.err = fmt.Errorf("build toxiproxy server: %v\n%s", err, out)
			return
		}
		port, err := freePort()
		if err != nil {
			external.err = err
			return
		}
		cmd := exec.Command(bin, "-host", "127.0.0.1", "-port", strconv.Itoa(port))
		cmd.Env = append(os.Environ(), "LOG_LEVEL=warn")
		if err := cmd.Start(); err != nil {
			external.err = err
			return
		}
		external.cmd = cmd
		external.done = make(chan struct{})
		go func() { cmd.Wait(); close(external.done) }()
		external.url = "http://127.0.0.1:" + strconv.Itoa(port)
		external.err = waitHTTP(external.url+"/version", 30*time.Second)
	})
	if external.err != nil {
		t.Fatalf("external toxiproxy: %v", external.err)
	}
	return external.url
}

func stopExternalToxiproxy() {
	if external.cmd != nil {
		external.cmd.Process.Kill()
		<-external.done
	}
	if external.dir != "" {
		os.RemoveAll(external.dir)
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitHTTP polls url until it answers 200 or the deadline passes.
func waitHTTP(url string, within time.Duration) error {
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(within)
	for {
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s", resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not up after %s: %v", url, within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testLedger opens a ledger in the test's temporary directory.
func testLedger(t *testing.T) *Ledger {
	t.Helper()
	l, err := OpenLedger(filepath.Join(t.TempDir(), "ledger.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// uniqueName is a proxy name no other test uses on a shared server.
func uniqueName(t *testing.T) string {
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, t.Name())
	return fmt.Sprintf("%s_%d", clean, time.Now().UnixNano()%1_000_000)
}

func itoa(n int) string { return strconv.Itoa(n) }

func exitOf(err error) int { return int(exitcodeOf(err)) }

// proxyToBackend starts a backend and a proxy in front of it on the
// Toxiproxy server at url, deleted when the test ends. It returns the
// proxy's name, the client and the proxy.
func proxyToBackend(t *testing.T, url string) (string, *toxiproxy.Client, *toxiproxy.Proxy) {
	t.Helper()
	be := startBackend(t)
	name := uniqueName(t)
	client := toxiproxy.NewClient(url)
	p, err := client.CreateProxy(name, "127.0.0.1:0", be.addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Delete() })
	return name, client, p
}
