package targets

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// RequestIDHeader carries a request's ID from the gateway to every service
// behind it; each service echoes it in its response.
const RequestIDHeader = "X-Request-Id"

// maxBody bounds the request and response bodies the services read.
const maxBody = 1 << 20

// router registers a service's routes, each instrumented under a route
// label of bounded cardinality.
type router struct {
	mux *http.ServeMux
	m   *metrics
}

func newRouter(m *metrics) *router { return &router{mux: http.NewServeMux(), m: m} }

// handle registers h for pattern ("GET /products/{id}"), counted as route.
func (r *router) handle(pattern, route string, h http.HandlerFunc) {
	r.mux.Handle(pattern, r.m.instrument(route, h))
}

// app is one service's behaviour behind the common endpoints.
type app interface {
	// routes registers the service's own endpoints.
	routes(r *router)
	// ready says why the service cannot take traffic, or nil.
	ready() error
	// close stops the service's goroutines and drops idle connections.
	close()
}

// newHandler builds a service's handler: its routes, /healthz, /readyz,
// /metrics, a counted 404 for anything else, and request IDs.
func newHandler(a app, m *metrics) http.Handler {
	r := newRouter(m)
	a.routes(r)
	r.handle("GET /healthz", "/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.handle("GET /readyz", "/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := a.ready(); err != nil {
			writeError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	r.mux.Handle("GET /metrics", m.handler())
	r.handle("/", "other", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "no such route")
	})
	return withRequestID(r.mux)
}

// withRequestID gives each request an ID (keeping the caller's) and echoes
// it in the response.
func withRequestID(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if id == "" || len(id) > 128 {
			id = rand.Text()
			r.Header.Set(RequestIDHeader, id)
		}
		w.Header().Set(RequestIDHeader, id)
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// readBody reads at most maxBody bytes of a request body.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBody {
		return nil, fmt.Errorf("body larger than %d bytes", maxBody)
	}
	return b, nil
}

// upstream is one link from a service to the next (catalog->store), with
// its own connection pool. Its address can be swapped while serving, so an
// experiment can route the link through a proxy.
type upstream struct {
	link      string
	base      atomic.Pointer[url.URL]
	transport *agedPool
	client    *http.Client
}

// newUpstream makes the link to addr; maxAge > 0 bounds how long its
// connections are reused (links.max_conn_age).
func newUpstream(link, addr string, maxAge time.Duration) (*upstream, error) {
	tr := newAgedPool(maxAge, func() *http.Transport {
		return &http.Transport{
			Proxy:               nil, // the shop's links never go through an HTTP proxy
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 128,
			IdleConnTimeout:     30 * time.Second,
		}
	})
	u := &upstream{link: link, transport: tr, client: &http.Client{Transport: tr}}
	if err := u.set(addr); err != nil {
		return nil, err
	}
	return u, nil
}

// set points the link at addr.
func (u *upstream) set(addr string) error {
	base, err := parseUpstream(addr)
	if err != nil {
		return fmt.Errorf("upstream %s: %w", u.link, err)
	}
	u.base.Store(base)
	// Connections to the old address must not keep serving the link.
	u.transport.CloseIdleConnections()
	return nil
}

// agedPool is an http.RoundTripper whose pooled connections live at most
// about maxAge: it sends each request through the current generation of
// an http.Transport and, once that generation is maxAge old, starts a new
// one, so that later requests dial afresh (through a Service's current
// endpoints, on Kubernetes). The old generation's idle connections are
// closed then, and those still busy when they come back idle, at the next
// rotation. With maxAge 0 there is one generation, as a plain Transport.
// Rotating on the request path, not on a timer, needs no goroutine.
type agedPool struct {
	maxAge time.Duration
	fresh  func() *http.Transport

	mu        sync.Mutex
	cur, prev *http.Transport
	born      time.Time
}

func newAgedPool(maxAge time.Duration, mk func() *http.Transport) *agedPool {
	return &agedPool{maxAge: maxAge, fresh: mk, cur: mk(), born: time.Now()}
}

func (p *agedPool) RoundTrip(req *http.Request) (*http.Response, error) {
	return p.current().RoundTrip(req)
}

// current is the generation a request goes through, rotated if it is old.
func (p *agedPool) current() *http.Transport {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.maxAge > 0 && time.Since(p.born) >= p.maxAge {
		if p.prev != nil {
			p.prev.CloseIdleConnections()
		}
		p.prev, p.cur, p.born = p.cur, p.fresh(), time.Now()
		p.prev.CloseIdleConnections()
	}
	return p.cur
}

// CloseIdleConnections closes the idle connections of both generations.
func (p *agedPool) CloseIdleConnections() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cur.CloseIdleConnections()
	if p.prev != nil {
		p.prev.CloseIdleConnections()
	}
}

// addr is the link's current base URL.
func (u *upstream) addr() string { return u.base.Load().String() }

// url joins the link's base URL and path.
func (u *upstream) url(path string) string {
	return strings.TrimSuffix(u.base.Load().String(), "/") + path
}

func (u *upstream) close() { u.transport.CloseIdleConnections() }

// do sends one request with the caller's request ID, bounded by timeout
// (none when <= 0). The caller closes the response body.
func (u *upstream) do(ctx context.Context, method, path string, body []byte, requestID string, timeout time.Duration) (*http.Response, context.CancelFunc, error) {
	cancel := context.CancelFunc(func() {})
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.url(path), rd)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	if requestID != "" {
		req.Header.Set(RequestIDHeader, requestID)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := u.client.Do(req)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return resp, cancel, nil
}

// call sends one request and reads the whole response body.
func (u *upstream) call(ctx context.Context, method, path string, body []byte, requestID string, timeout time.Duration) (int, []byte, error) {
	resp, cancel, err := u.do(ctx, method, path, body, requestID, timeout)
	if err != nil {
		return 0, nil, err
	}
	defer cancel()
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}

// parseUpstream accepts "host:port" or "http://host:port[/prefix]".
func parseUpstream(addr string) (*url.URL, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return nil, fmt.Errorf("address is empty")
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", addr, err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("address %q: scheme must be http", addr)
	}
	if u.Hostname() == "" || u.Port() == "" {
		return nil, fmt.Errorf("address %q: want host:port", addr)
	}
	return u, nil
}
