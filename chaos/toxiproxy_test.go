package chaos

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestEmbeddedToxiproxyCloseStopsEverything(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tp, err := StartToxiproxy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tp.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL %s, want loopback", tp.URL())
	}
	be := startBackend(t)
	p, err := tp.Client().CreateProxy("db", "127.0.0.1:0", be.addr())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.AddToxic("slow", "latency", "downstream", 1, map[string]any{"latency": 10_000}); err != nil {
		t.Fatal(err)
	}
	// A connection with data held in the latency toxic when Close comes.
	conn, err := net.Dial("tcp", p.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("ping\n"))
	if n := countLabelled(`"` + goroutineLabel + `":"` + tp.label + `"`); n == 0 {
		t.Fatal("no goroutine carries the server's label: Close could not wait for them")
	}

	if err := tp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tp.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if n := countLabelled(`"` + goroutineLabel + `":"` + tp.label + `"`); n != 0 {
		t.Fatalf("%d goroutines of the server still run after Close", n)
	}
	for _, addr := range []string{strings.TrimPrefix(tp.URL(), "http://"), p.Listen} {
		if _, err := net.DialTimeout("tcp", addr, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("dial %s after Close: %v, want connection refused", addr, err)
		}
	}
	// The data the toxic held may still arrive, then the connection ends.
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	var ne net.Error
	if _, err := io.ReadAll(conn); errors.As(err, &ne) && ne.Timeout() {
		t.Error("a proxied connection survived Close")
	}
}

func TestEmbeddedToxiproxyBindErrorIsAnError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = StartToxiproxy(context.Background(), WithListen(ln.Addr().String()))
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("StartToxiproxy on a taken port = %v, want an error", err)
	}
}

func TestEmbeddedToxiproxyAPI(t *testing.T) {
	t.Parallel()
	tp, err := StartToxiproxy(context.Background(), WithListen("0.0.0.0:0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() })
	if !strings.HasPrefix(tp.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL %s for a wildcard listen, want loopback", tp.URL())
	}
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	cases := []struct {
		name      string
		userAgent string
		path      string
		want      int
	}{
		{"version", "faultline-test", "/version", http.StatusOK},
		{"proxies", "faultline-test", "/proxies", http.StatusOK},
		{"unknown proxy", "faultline-test", "/proxies/nope", http.StatusNotFound},
		{"browsers are refused", "Mozilla/5.0", "/proxies", http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(http.MethodGet, tp.URL()+tc.path, nil)
			req.Header.Set("User-Agent", tc.userAgent)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("GET %s: %s, want %d", tc.path, resp.Status, tc.want)
			}
			if resp.ContentLength < 0 {
				t.Fatalf("GET %s: no Content-Length", tc.path)
			}
		})
	}
}
