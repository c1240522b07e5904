package loadgen

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEngineChoice(t *testing.T) {
	t.Parallel()
	plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(plain.Close)
	secure := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(secure.Close)
	httpTarget, _ := NewTarget("GET", plain.URL+"/")
	httpsTarget, _ := NewTarget("GET", secure.URL+"/")
	wantAuto := EngineGoroutine
	if epollSupported {
		wantAuto = EngineEpoll
	}
	cases := []struct {
		name    string
		opts    Options
		want    Engine
		invalid bool
	}{
		{"auto, plain http", Options{Targets: []Target{httpTarget}}, wantAuto, false},
		{"auto, https", Options{Targets: []Target{httpTarget, httpsTarget}, TLS: TLSOptions{Insecure: true}}, EngineGoroutine, false},
		{"auto, h2c", Options{Targets: []Target{httpTarget}, HTTP2: true}, EngineGoroutine, false},
		{"goroutine asked for", Options{Targets: []Target{httpTarget}, Engine: EngineGoroutine}, EngineGoroutine, false},
		{"epoll with https", Options{Targets: []Target{httpsTarget}, Engine: EngineEpoll}, "", true},
		{"epoll with h2c", Options{Targets: []Target{httpTarget}, HTTP2: true, Engine: EngineEpoll}, "", true},
		{"unknown engine", Options{Targets: []Target{httpTarget}, Engine: "threads"}, "", true},
	}
	if !epollSupported {
		cases = append(cases, struct {
			name    string
			opts    Options
			want    Engine
			invalid bool
		}{"epoll off Linux", Options{Targets: []Target{httpTarget}, Engine: EngineEpoll}, "", true})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.opts.Model, c.opts.Rate, c.opts.Duration = Open, 20, 200*time.Millisecond
			res, err := Run(context.Background(), c.opts)
			if c.invalid {
				if err == nil {
					t.Fatalf("ran on %s; want a usage error", res.Engine)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Engine != c.want {
				t.Errorf("ran on %s, want %s", res.Engine, c.want)
			}
			// The test server speaks HTTP/1.1 only, so h2c fails there.
			if !c.opts.HTTP2 && res.Total.Failed("") != 0 {
				t.Errorf("%d failures (%v)", res.Total.Failed(""), res.Total.ErrorsByClass(""))
			}
		})
	}
}

// TestServerClosingAfterEachResponse checks that a request sent on a
// keep-alive connection the server has just closed goes out again on a new
// one instead of failing, in both models.
func TestServerClosingAfterEachResponse(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				if readRequestHead(bufio.NewReader(c)) == nil {
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			}()
		}
	}()
	t.Cleanup(func() { l.Close(); wg.Wait() })
	target, _ := NewTarget("GET", "http://"+l.Addr().String()+"/")
	eachEngine(t, func(t *testing.T, eng Engine) {
		for _, opts := range []Options{
			{Model: Closed, Concurrency: 2, Duration: 300 * time.Millisecond},
			{Model: Open, Rate: 200, Duration: 300 * time.Millisecond, Connections: 2},
		} {
			opts.Targets, opts.Engine = []Target{target}, eng
			res := mustRun(t, context.Background(), opts)
			if res.Total.Completed("") == 0 || res.Total.Failed("") != 0 {
				t.Errorf("%s model: %d completed, %d failed (%v); want no failure", opts.Model, res.Total.Completed(""), res.Total.Failed(""), res.Total.ErrorsByClass(""))
			}
		}
	})
}

// TestEpollEngineStartsNoGoroutinePerConnection runs 200 connections and
// counts the process's goroutines mid-run. It is not parallel, so that
// other tests' goroutines do not count.
func TestEpollEngineStartsNoGoroutinePerConnection(t *testing.T) {
	if !epollSupported {
		t.Skip("the epoll engine is Linux's")
	}
	_, target := server(t, func(w http.ResponseWriter, r *http.Request) {})
	before := runtime.NumGoroutine()
	var during int
	res := mustRun(t, context.Background(), Options{
		Targets: []Target{target}, Model: Open, Rate: 2000, Duration: 500 * time.Millisecond, Connections: 200,
		Engine: EngineEpoll, Interval: 100 * time.Millisecond,
		OnInterval: func(*Stats) { during = max(during, runtime.NumGoroutine()) },
	})
	if res.Total.Failed("") != 0 {
		t.Fatalf("%d failed", res.Total.Failed(""))
	}
	// The server's goroutines per connection count too: at most one per
	// connection the generator opened, which is what it needs at 2,000/s.
	// The generator's own are its loops, the collector and the watcher.
	limit := before + 200*2 + runtime.GOMAXPROCS(0) + 4
	if during > limit {
		t.Errorf("%d goroutines mid-run (%d before), want at most %d", during, before, limit)
	}
}

func TestEpollFailureSampleReadsLikeNet(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	target, _ := NewTarget("GET", "http://"+addr+"/")
	eachEngine(t, func(t *testing.T, eng Engine) {
		res := mustRun(t, context.Background(), Options{Targets: []Target{target}, Model: Open, Rate: 10, Duration: 200 * time.Millisecond, Engine: eng})
		f := res.Total.FailuresOf(target.Name)
		if len(f) == 0 || f[0].Error != ErrRefused || !strings.Contains(f[0].Body, "connection refused") || !strings.Contains(f[0].Body, addr) {
			t.Errorf("samples %+v, want a refused connection to %s", f, addr)
		}
	})
}
