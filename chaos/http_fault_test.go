package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// httpBackend is an HTTP upstream that counts the requests reaching it.
func httpBackend(t *testing.T) (string, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), &n
}

// send sends n requests through addr over keep-alive connections and
// counts the answers by status.
func send(t *testing.T, addr, method, path string, n int) map[int]int {
	t.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	got := map[int]int{}
	for range n {
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader("{}"))
		resp, err := c.Do(req)
		if err != nil {
			got[0]++
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got[resp.StatusCode]++
	}
	return got
}

func upstreamOf(t *testing.T, c *toxiproxy.Client, name string) string {
	t.Helper()
	p, err := c.Proxy(name)
	if err != nil {
		t.Fatal(err)
	}
	return p.Upstream
}

// TestHTTPAbortPerRequest puts a 10% abort of POST /api/orders/{id} on a
// proxy of each Toxiproxy server: 2,000 POSTs through it get 503 within 3
// sigma of 200, exactly as many as the revert note counts; GETs pass;
// the proxy's upstream is the HTTP proxy during the fault and the real one
// after, reverted by the session and, as cleanup after a SIGKILL, from the
// ledger.
func TestHTTPAbortPerRequest(t *testing.T) {
	t.Parallel()
	for _, srv := range toxiproxyServers(t) {
		for _, from := range []string{"session", "ledger"} {
			t.Run(srv.name+"/"+from, func(t *testing.T) {
				backend, reached := httpBackend(t)
				name := uniqueName(t)
				client := toxiproxy.NewClient(srv.url)
				p, err := client.CreateProxy(name, "127.0.0.1:0", backend)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { p.Delete() })
				f, err := New(Spec{Kind: "http_abort", Proxy: name, Method: "POST", Path: "/api/orders/{id}", Percent: ptr(10.0), Seed: ptr(uint64(42))})
				if err != nil {
					t.Fatal(err)
				}
				ledger := testLedger(t)
				s := NewSession(ledger, &Env{ToxiproxyURL: srv.url, ToxiproxyEmbedded: srv.embedded})
				ctx := context.Background()
				e, err := s.Inject(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				if up := upstreamOf(t, client, name); up == backend {
					t.Fatalf("during: upstream is still %s", up)
				}
				during := send(t, p.Listen, "POST", "/api/orders/o-1", 2000)
				gets := send(t, p.Listen, "GET", "/api/orders/o-1", 100)
				if math.Abs(float64(during[503])-200) > 3*math.Sqrt(2000*0.1*0.9) || during[200]+during[503] != 2000 {
					t.Errorf("during: %v, want 200 ± 40 of 2000 answered 503, the rest 200", during)
				}
				if gets[200] != 100 {
					t.Errorf("GETs during: %v, want 100 answered 200", gets)
				}
				var out strings.Builder
				if from == "session" {
					err = s.Revert(ctx, e)
				} else {
					_, err = RevertLedger(ctx, ledger, &Env{ToxiproxyURL: srv.url, ToxiproxyEmbedded: srv.embedded}, &out)
				}
				if err != nil {
					t.Fatalf("revert: %v\n%s", err, out.String())
				}
				if from == "session" {
					want := fmt.Sprintf("touched %d of 2000 matching requests", during[503])
					if !strings.Contains(e.RevertNote, want) {
						t.Errorf("note %q, want %q", e.RevertNote, want)
					}
				}
				if up := upstreamOf(t, client, name); up != backend {
					t.Errorf("after: upstream %s, want %s", up, backend)
				}
				if after := send(t, p.Listen, "POST", "/api/orders/o-1", 100); after[200] != 100 {
					t.Errorf("after: %v, want 100 answered 200", after)
				}
				t.Logf("%d of 2000 POSTs answered 503 (3 sigma: 160..240); %d requests reached the upstream; %s", during[503], reached.Load(), e.RevertNote)
				if liveHTTPProxy(srv.url, name) != nil {
					t.Error("the HTTP proxy is still registered")
				}
			})
		}
	}
}

// TestHTTPDelayPerRequest puts a 50% delay of 150ms on GET
// /api/products/{id} on a proxy: of 40 GETs over one kept-alive connection,
// exactly as many took 150ms or more as the revert note counts touched, the
// rest came back fast, and POSTs to the same path were not held.
func TestHTTPDelayPerRequest(t *testing.T) {
	t.Parallel()
	srv := toxiproxyServers(t)[0]
	backend, _ := httpBackend(t)
	name := uniqueName(t)
	p, err := toxiproxy.NewClient(srv.url).CreateProxy(name, "127.0.0.1:0", backend)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Delete() })
	const delay = 150 * time.Millisecond
	f, err := New(Spec{Kind: "http_delay", Proxy: name, Method: "GET", Path: "/api/products/{id}", Delay: delay, Percent: ptr(50.0), Seed: ptr(uint64(3))})
	if err != nil {
		t.Fatal(err)
	}
	s := NewSession(testLedger(t), &Env{ToxiproxyURL: srv.url, ToxiproxyEmbedded: true})
	ctx := context.Background()
	e, err := s.Inject(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	timed := func(method string) time.Duration {
		req, _ := http.NewRequest(method, "http://"+p.Listen+"/api/products/p1", nil)
		start := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(start)
	}
	held := 0
	for range 40 {
		if timed("GET") >= delay {
			held++
		}
	}
	for range 5 {
		if took := timed("POST"); took >= delay {
			t.Errorf("a POST took %v: not matched, it must not be held", took)
		}
	}
	if err := s.Revert(ctx, e); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d of 40 GETs held %v or more; %s", held, delay, e.RevertNote)
	if want := fmt.Sprintf("touched %d of 40 matching requests", held); held == 0 || held == 40 || !strings.Contains(e.RevertNote, want) {
		t.Errorf("%d of 40 GETs held; note %q, want %q", held, e.RevertNote, want)
	}
}

// TestHTTPFaultsShareAProxy: two HTTP faults on one proxy, reverted in the
// order they were injected (not nested): the link keeps the HTTP proxy
// until the last one ends, and the second one's delay still applies after
// the first is gone.
func TestHTTPFaultsShareAProxy(t *testing.T) {
	t.Parallel()
	srv := toxiproxyServers(t)[0]
	backend, _ := httpBackend(t)
	name := uniqueName(t)
	client := toxiproxy.NewClient(srv.url)
	p, err := client.CreateProxy(name, "127.0.0.1:0", backend)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Delete() })
	abort, _ := New(Spec{Kind: "http_abort", Proxy: name, Status: 429})
	delay, _ := New(Spec{Kind: "http_delay", Proxy: name, Delay: 1})
	s := NewSession(testLedger(t), &Env{ToxiproxyURL: srv.url, ToxiproxyEmbedded: true})
	ctx := context.Background()
	ea, err := s.Inject(ctx, abort)
	if err != nil {
		t.Fatal(err)
	}
	ed, err := s.Inject(ctx, delay)
	if err != nil {
		t.Fatal(err)
	}
	if got := send(t, p.Listen, "GET", "/", 10); got[429] != 10 {
		t.Errorf("both: %v", got)
	}
	if err := s.Revert(ctx, ea); err != nil {
		t.Fatal(err)
	}
	if up := upstreamOf(t, client, name); up == backend {
		t.Error("the first revert took the HTTP proxy out of the link")
	}
	if got := send(t, p.Listen, "GET", "/", 10); got[200] != 10 {
		t.Errorf("delay alone: %v", got)
	}
	if err := s.Revert(ctx, ed); err != nil {
		t.Fatal(err)
	}
	if up := upstreamOf(t, client, name); up != backend {
		t.Errorf("after both: upstream %s, want %s", up, backend)
	}
	// The abort answered the first ten before the delay saw them.
	if !strings.Contains(ed.RevertNote, "touched 10 of 10") {
		t.Errorf("delay note %q", ed.RevertNote)
	}
}

func TestHTTPFaultValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		spec  Spec
		field string
		want  string
	}{
		{Spec{Kind: "http_abort", Proxy: "p", Percent: ptr(0.0)}, "percent", "percent 0: want a share"},
		{Spec{Kind: "http_abort", Proxy: "p", Percent: ptr(150.0)}, "percent", "percent 150"},
		{Spec{Kind: "http_abort", Proxy: "p", Status: 99}, "status", "status 99: want an HTTP status"},
		{Spec{Kind: "http_abort", Proxy: "p", Status: 503, Reset: true}, "status", "with reset"},
		{Spec{Kind: "http_abort", Proxy: "p", Path: "api/orders"}, "path", "starts with '/'"},
		{Spec{Kind: "http_abort", Proxy: "p", Path: "/api/{id...}/x"}, "path", "must be the last segment"},
		{Spec{Kind: "http_abort", Proxy: "p", Method: "GET /"}, "method", "want a request method"},
		{Spec{Kind: "http_delay", Proxy: "p"}, "delay", "delay is required"},
		{Spec{Kind: "http_delay", Proxy: "p", Delay: 10, Jitter: 20}, "jitter", "at most delay"},
		{Spec{Kind: "http_delay", Delay: 10}, "proxy", "proxy is required"},
	} {
		errs := tc.spec.Validate()
		var fe *FieldError
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) || !errors.As(errs[0], &fe) || fe.Field != tc.field {
			t.Errorf("%+v: %v, want %q on %s", tc.spec, errs, tc.want, tc.field)
		}
	}
}
