package httpfault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPatterns(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern string
		match   []string
		miss    []string
	}{
		{"", []string{"/", "/api/orders"}, nil},
		{"/api/orders", []string{"/api/orders"}, []string{"/api/orders/1", "/api/order", "/api"}},
		{"/api/orders/{id}", []string{"/api/orders/42", "/api/orders/o-1"}, []string{"/api/orders", "/api/orders/", "/api/orders/1/items"}},
		{"/api/{kind}/{id}", []string{"/api/products/p001"}, []string{"/api/products"}},
		{"/static/{rest...}", []string{"/static", "/static/", "/static/a/b.css"}, []string{"/stat", "/api/static"}},
		{"/api/", []string{"/api/"}, []string{"/api", "/api/x"}},
	} {
		p, err := ParsePattern(tc.pattern)
		if err != nil {
			t.Fatalf("%q: %v", tc.pattern, err)
		}
		for _, path := range tc.match {
			if !p.Match(path) {
				t.Errorf("%q does not match %q", tc.pattern, path)
			}
		}
		for _, path := range tc.miss {
			if p.Match(path) {
				t.Errorf("%q matches %q", tc.pattern, path)
			}
		}
	}
	for pattern, want := range map[string]string{
		"api/orders":           "starts with '/'",
		"/api/orders?id=1":     "no query",
		"/api//orders":         "empty segment",
		"/api/{rest...}/items": "must be the last segment",
		"/api/order{id}":       "whole segment",
		"/api/{}":              "want {name}",
		"/api/{1d}":            "want {name}",
		"/api/orders list":     "white space",
	} {
		if _, err := ParsePattern(pattern); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", pattern, err, want)
		}
	}
}

// upstream is a backend that counts the requests that reached it.
func upstream(t *testing.T, h2c bool) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%s %s %s host=%s", r.Proto, r.Method, r.URL.Path, r.Host)
	}))
	if h2c {
		srv.Config.Protocols = new(http.Protocols)
		srv.Config.Protocols.SetUnencryptedHTTP2(true)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &n
}

func startProxy(t *testing.T, up string) *Proxy {
	t.Helper()
	p, err := Start(context.Background(), "127.0.0.1:0", up)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}

func mustPattern(t *testing.T, s string) Pattern {
	p, err := ParsePattern(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPercentIsPerRequest sends 10,000 POSTs over one keep-alive connection
// through a 10% abort, and 1,000 GETs among them that it must not match: the aborts land
// within 3 sigma of the binomial's 1,000 (sigma = sqrt(10000 x 0.1 x 0.9)
// = 30), every request that was not aborted reached the upstream, the GETs
// all did, one connection carried them all, and the same seed aborts the
// same requests again.
func TestPercentIsPerRequest(t *testing.T) {
	t.Parallel()
	run := func(seed uint64) []int {
		up, reached := upstream(t, false)
		p := startProxy(t, strings.TrimPrefix(up.URL, "http://"))
		rule := &Rule{Method: http.MethodPost, Path: mustPattern(t, "/api/orders"), Percent: 10, Seed: seed, Status: http.StatusServiceUnavailable}
		p.Add(rule)
		tr := &http.Transport{MaxConnsPerHost: 1}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr}
		var conns atomic.Int64
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
			if !i.Reused {
				conns.Add(1)
			}
		}}
		var aborted []int
		for i := range 10_000 {
			methods := []string{http.MethodPost}
			if i%10 == 0 {
				methods = append(methods, http.MethodGet)
			}
			for _, method := range methods {
				req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), method, "http://"+p.Addr()+"/api/orders", strings.NewReader("{}"))
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch {
				case resp.StatusCode == http.StatusServiceUnavailable && method == http.MethodPost:
					aborted = append(aborted, i)
				case resp.StatusCode != http.StatusOK:
					t.Fatalf("%s %d: status %d", method, i, resp.StatusCode)
				}
			}
		}
		n := len(aborted)
		c := rule.Counts()
		t.Logf("seed %d: %d of 10000 POSTs aborted (3 sigma: 910..1090), %d requests reached the upstream, %d connection(s)", seed, n, reached.Load(), conns.Load())
		if math.Abs(float64(n)-1000) > 3*math.Sqrt(10_000*0.1*0.9) {
			t.Errorf("aborted %d of 10000, want 1000 ± 90", n)
		}
		if c.Matched != 10_000 || c.Touched != int64(n) {
			t.Errorf("counts %+v, want 10000 matched, %d touched", c, n)
		}
		if got := reached.Load(); got != int64(11_000-n) {
			t.Errorf("upstream got %d requests, want %d", got, 11_000-n)
		}
		if conns.Load() != 1 {
			t.Errorf("%d connections, want 1 (keep-alive)", conns.Load())
		}
		return aborted
	}
	a, b, c := run(7), run(7), run(8)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("the same seed aborted other requests")
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Error("another seed aborted the same requests")
	}
}

// h2cClient speaks HTTP/2 with prior knowledge over cleartext.
func h2cClient(t *testing.T) *http.Client {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func get(t *testing.T, c *http.Client, method, url string, header http.Header) (*http.Response, string, error) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, string(body), err
}

// TestProtocolsAndActions: HTTP/1.1 and h2c both pass through (forwarded
// with the protocol they came in, the client's Host kept), an abort with a
// status answers, a reset ends the request without a response, headers
// and methods select, and a delay with jitter holds requests within its
// bounds.
func TestProtocolsAndActions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		h2c    bool
		client func(*testing.T) *http.Client
		proto  string
	}{
		{"http1", false, func(*testing.T) *http.Client { return &http.Client{Transport: &http.Transport{}} }, "HTTP/1.1"},
		{"h2c", true, h2cClient, "HTTP/2.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up, _ := upstream(t, tc.h2c)
			p := startProxy(t, strings.TrimPrefix(up.URL, "http://"))
			c := tc.client(t)
			defer c.CloseIdleConnections()
			base := "http://" + p.Addr()
			resp, body, err := get(t, c, "GET", base+"/api/products/p001", nil)
			if err != nil || resp.Proto != tc.proto || body != tc.proto+" GET /api/products/p001 host="+p.Addr() {
				t.Fatalf("pass through: %v %v %q", resp, err, body)
			}
			p.Add(&Rule{Method: "DELETE", Path: mustPattern(t, "/api/orders/{id}"), Percent: 100, Status: 503})
			p.Add(&Rule{Path: mustPattern(t, "/api/orders/{id}"), Headers: map[string]string{"X-Chaos": "reset"}, Percent: 100, Reset: true})
			delay := &Rule{Method: "GET", Path: mustPattern(t, "/slow/{rest...}"), Percent: 100, Delay: 100 * time.Millisecond, Jitter: 50 * time.Millisecond}
			p.Add(delay)
			if resp, body, _ := get(t, c, "DELETE", base+"/api/orders/42", nil); resp == nil || resp.StatusCode != 503 || !strings.Contains(body, "faultline http_abort: 503") {
				t.Errorf("abort: %v %q", resp, body)
			}
			if resp, _, _ := get(t, c, "GET", base+"/api/orders/42", nil); resp == nil || resp.StatusCode != 200 {
				t.Errorf("GET is not DELETE: %v", resp)
			}
			if _, _, err := get(t, c, "GET", base+"/api/orders/42", http.Header{"X-Chaos": {"reset"}}); err == nil {
				t.Error("reset: got a response")
			}
			for range 5 {
				start := time.Now()
				resp, _, err := get(t, c, "GET", base+"/slow/a/b", nil)
				took := time.Since(start)
				if err != nil || resp.StatusCode != 200 || took < 50*time.Millisecond || took > 2*time.Second {
					t.Errorf("delay: %v %v after %s, want 50ms..150ms (and the machine's own time)", resp, err, took)
				}
			}
			if c := delay.Counts(); c.Matched != 5 || c.Touched != 5 {
				t.Errorf("delay counts %+v", c)
			}
		})
	}
}

// TestCloseEndsHeldRequests: closing the proxy ends a request it holds.
func TestCloseEndsHeldRequests(t *testing.T) {
	t.Parallel()
	up, _ := upstream(t, false)
	p, err := Start(context.Background(), "127.0.0.1:0", strings.TrimPrefix(up.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	p.Add(&Rule{Percent: 100, Delay: time.Hour})
	done := make(chan error, 1)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	go func() {
		resp, err := (&http.Client{Transport: tr}).Get("http://" + p.Addr() + "/")
		if err == nil {
			resp.Body.Close()
			err = errors.New("answered")
		}
		done <- err
	}()
	for p.rulesMatched() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Fatal("held request answered")
	}
}

func (p *Proxy) rulesMatched() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var n int64
	for _, r := range p.rules {
		n += r.Counts().Matched
	}
	return n
}
