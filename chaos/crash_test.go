package chaos

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// crashableHTTP is a real HTTP service on loopback implementing Crashable
// as the bundled targets do: Crash closes the listener and every live
// connection, Restore listens again on the same address.
type crashableHTTP struct {
	addr string
	mu   sync.Mutex
	srv  *http.Server
	done chan struct{}
}

func startCrashable(t *testing.T) *crashableHTTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &crashableHTTP{addr: ln.Addr().String()}
	c.serve(ln)
	t.Cleanup(func() { c.Crash(context.Background()) })
	return c
}

func (c *crashableHTTP) serve(ln net.Listener) {
	c.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	c.done = make(chan struct{})
	go func(srv *http.Server, done chan struct{}) {
		defer close(done)
		srv.Serve(ln)
	}(c.srv, c.done)
}

func (c *crashableHTTP) Crash(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.srv == nil {
		return nil
	}
	err := c.srv.Close()
	<-c.done
	c.srv = nil
	return err
}

func (c *crashableHTTP) Restore(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.srv != nil {
		return nil
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	c.serve(ln)
	return nil
}

func TestCrashClosesTheServiceAndRevertBringsItBack(t *testing.T) {
	t.Parallel()
	svc := startCrashable(t)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	get := func() error {
		resp, err := client.Get("http://" + svc.addr + "/")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || string(body) != "ok" {
			return errors.New("bad answer")
		}
		return nil
	}
	if err := get(); err != nil {
		t.Fatal(err)
	}
	live, err := net.Dial("tcp", svc.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()

	ledger := testLedger(t)
	s := NewSession(ledger, &Env{Services: map[string]Crashable{"catalog": svc}})
	f, err := New(Spec{Kind: "crash", Service: "catalog"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.Inject(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	tr.CloseIdleConnections()
	if err := get(); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("GET on a crashed service: %v, want connection refused", err)
	}
	live.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := live.Read(make([]byte, 1)); err == nil {
		t.Fatal("a live connection survived the crash")
	}
	if err := s.Revert(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if err := get(); err != nil {
		t.Fatalf("GET after revert: %v", err)
	}
	if active, _ := ledger.Active(); len(active) != 0 {
		t.Fatalf("%d active after revert", len(active))
	}
}

func TestCrashUnknownService(t *testing.T) {
	t.Parallel()
	s := NewSession(testLedger(t), &Env{Services: map[string]Crashable{"catalog": nil, "cart": nil}})
	f, _ := New(Spec{Kind: "crash", Service: "payments"})
	_, err := s.Inject(context.Background(), f)
	if err == nil || !strings.Contains(err.Error(), "running here: cart, catalog") || exitOf(err) != 5 {
		t.Fatalf("inject = %v, want exit 5 listing the services", err)
	}
}
