// Package httpfault is the HTTP-aware reverse proxy behind faultline's
// HTTP faults: it forwards every request to one upstream, and applies
// rules per request: answer with a status or reset the stream (abort), or
// hold the request before forwarding it (delay), for a seeded share of the
// requests that match a method, a path pattern and headers. Toxiproxy acts
// on connections; this acts on requests, so 10% means 10% of the requests
// on a pooled keep-alive connection, not all or none of them.
//
// It speaks HTTP/1.1 (keep-alive) and h2c (HTTP/2 over cleartext, with
// prior knowledge) to clients, and forwards each request upstream with the
// protocol it came in, over its own pool of keep-alive connections.
package httpfault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Proxy is a running HTTP fault proxy.
type Proxy struct {
	upstream string
	ln       net.Listener
	srv      *http.Server
	h1, h2   *http.Transport
	fwd1     *httputil.ReverseProxy
	fwd2     *httputil.ReverseProxy
	ctx      context.Context
	cancel   context.CancelFunc
	served   chan struct{}
	inflight sync.WaitGroup

	mu     sync.Mutex
	rules  []*Rule
	closed bool

	closeOnce sync.Once
}

// Start starts a proxy on listen (such as 127.0.0.1:0) that forwards to
// upstream (HOST:PORT) until Close.
func Start(ctx context.Context, listen, upstream string) (*Proxy, error) {
	if _, _, err := net.SplitHostPort(upstream); err != nil {
		return nil, fmt.Errorf("http fault proxy: upstream %q: want HOST:PORT", upstream)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("http fault proxy: %w", err)
	}
	p := &Proxy{upstream: upstream, ln: ln, served: make(chan struct{})}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.h1 = &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second, DisableCompression: true}
	p.h2 = &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second, DisableCompression: true, Protocols: new(http.Protocols)}
	p.h2.Protocols.SetUnencryptedHTTP2(true)
	target := &url.URL{Scheme: "http", Host: upstream}
	p.fwd1, p.fwd2 = p.forwarder(target, p.h1), p.forwarder(target, p.h2)
	p.srv = &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return p.ctx },
		ErrorLog:          log.New(io.Discard, "", 0),
		Protocols:         new(http.Protocols),
	}
	p.srv.Protocols.SetHTTP1(true)
	p.srv.Protocols.SetUnencryptedHTTP2(true)
	go func() {
		defer close(p.served)
		p.srv.Serve(ln)
	}()
	return p, nil
}

// forwarder is a transparent reverse proxy to target: the client's Host
// header goes upstream as it was, and no X-Forwarded-* headers are added.
func (p *Proxy) forwarder(target *url.URL, tr *http.Transport) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		},
		Transport: tr,
		ErrorLog:  log.New(io.Discard, "", 0),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprintf(w, "faultline http fault proxy: upstream %s: %v\n", p.upstream, err)
		},
	}
}

// Addr is the address the proxy listens on.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Upstream is where the proxy forwards to.
func (p *Proxy) Upstream() string { return p.upstream }

// Add applies r to the requests from now on, after the rules added before.
func (p *Proxy) Add(r *Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, r)
}

// Remove stops applying r and returns how many rules are left.
func (p *Proxy) Remove(r *Rule) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = slices.DeleteFunc(p.rules, func(x *Rule) bool { return x == r })
	return len(p.rules)
}

// ServeHTTP applies the rules in the order they were added: each one that
// matches draws whether it touches the request; the first abort that does
// answers it; the delays that do add up, and the request is forwarded once
// they have passed.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		panic(http.ErrAbortHandler)
	}
	p.inflight.Add(1)
	rules := slices.Clone(p.rules)
	p.mu.Unlock()
	defer p.inflight.Done()
	var hold time.Duration
	for _, r := range rules {
		if !r.matches(req) {
			continue
		}
		touch, delay := r.draw()
		switch {
		case !touch:
		case r.Reset:
			// The server closes an HTTP/1.1 connection without an answer,
			// and resets an HTTP/2 stream, on this panic, without logging.
			panic(http.ErrAbortHandler)
		case r.Status != 0:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("X-Faultline-Fault", "http_abort")
			w.WriteHeader(r.Status)
			fmt.Fprintf(w, "faultline http_abort: %d %s\n", r.Status, http.StatusText(r.Status))
			return
		default:
			hold += delay
		}
	}
	if hold > 0 {
		t := time.NewTimer(hold)
		select {
		case <-t.C:
		case <-req.Context().Done():
			t.Stop()
			return
		}
	}
	if req.ProtoMajor == 2 {
		p.fwd2.ServeHTTP(w, req)
		return
	}
	p.fwd1.ServeHTTP(w, req)
}

// Close stops the proxy: it closes the listener and every connection,
// ends the requests it holds, and waits for them.
func (p *Proxy) Close() error {
	var err error
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		p.cancel()
		err = p.srv.Close()
		<-p.served
		p.inflight.Wait()
		p.h1.CloseIdleConnections()
		p.h2.CloseIdleConnections()
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	})
	return err
}
