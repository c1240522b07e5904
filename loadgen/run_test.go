package loadgen

import (
	"context"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// server starts an httptest server with handler and returns a target for it.
func server(t *testing.T, handler http.HandlerFunc) (*httptest.Server, Target) {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	target, err := NewTarget("GET", srv.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	return srv, target
}

// testEngines are the engines the run tests run against: every test that
// can run on both runs twice.
func testEngines() []Engine {
	if epollSupported {
		return []Engine{EngineEpoll, EngineGoroutine}
	}
	return []Engine{EngineGoroutine}
}

// eachEngine runs test once per engine, as parallel subtests.
func eachEngine(t *testing.T, test func(t *testing.T, eng Engine)) {
	t.Helper()
	for _, eng := range testEngines() {
		t.Run(string(eng), func(t *testing.T) {
			t.Parallel()
			test(t, eng)
		})
	}
}

func mustRun(t *testing.T, ctx context.Context, opts Options) *Result {
	t.Helper()
	res, err := Run(ctx, opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if opts.Engine != EngineAuto && opts.Engine != "" && res.Engine != opts.Engine {
		t.Fatalf("ran on the %s engine, asked for %s", res.Engine, opts.Engine)
	}
	return res
}

func TestFixedServiceTime(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, eng Engine) {
		_, target := server(t, func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(20 * time.Millisecond)
			w.Write([]byte("ok"))
		})
		for _, model := range []Model{Open, Closed} {
			opts := Options{Engine: eng, Targets: []Target{target}, Model: model, Duration: 2 * time.Second}
			if model == Open {
				opts.Rate = 200
			} else {
				opts.Concurrency = 4
			}
			res := mustRun(t, context.Background(), opts)
			p50 := Percentile(res.Total.Latency(""), 50)
			if p50 < 20*time.Millisecond || p50 > 25*time.Millisecond {
				t.Errorf("%s model: p50 = %v, want within [20ms, 25ms]", model, p50)
			}
			if n := res.Total.Failed(""); n != 0 {
				t.Errorf("%s model: %d failed requests", model, n)
			}
		}
	})
}

// stallServer holds every request that arrives during [stallFrom,
// stallFrom+stall) of its clock until the stall ends, like a process that
// was paused and resumed.
func stallServer(t *testing.T, stallFrom, stall time.Duration) (Target, func()) {
	var start atomic.Pointer[time.Time]
	_, target := server(t, func(w http.ResponseWriter, r *http.Request) {
		s := start.Load()
		if s != nil {
			el := time.Since(*s)
			if el >= stallFrom && el < stallFrom+stall {
				time.Sleep(stallFrom + stall - el)
			}
		}
		w.Write([]byte("ok"))
	})
	return target, func() { now := time.Now(); start.Store(&now) }
}

func TestStallShowsInOpenModelTail(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, eng Engine) {
		target, startClock := stallServer(t, 500*time.Millisecond, time.Second)
		startClock()
		res := mustRun(t, context.Background(), Options{Engine: eng,
			Targets: []Target{target}, Model: Open, Rate: 500, Duration: 3 * time.Second,
		})
		lat := res.Total.Latency("")
		// A third of the schedule falls in the stall, so the true p99 is
		// close to the whole stall (about 970ms); the median is not stalled.
		if p99 := Percentile(lat, 99); p99 < 500*time.Millisecond {
			t.Errorf("open model p99 = %v, want well above 500ms", p99)
		}
		if p50 := Percentile(lat, 50); p50 > 400*time.Millisecond {
			t.Errorf("open model p50 = %v: the median should not be the stall", p50)
		}
		if got, want := res.Total.Completed(""), int64(1500); got != want {
			t.Errorf("completed %d requests, want %d: no request may be lost in a stall", got, want)
		}
	})
}

func TestScheduleSendsTheRightCount(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, eng Engine) {
		_, target := server(t, func(w http.ResponseWriter, r *http.Request) {})
		res := mustRun(t, context.Background(), Options{Engine: eng, Targets: []Target{target}, Model: Open, Rate: 1000, Duration: 2 * time.Second})
		got := res.Total.Completed("")
		if got < 1980 || got > 2020 {
			t.Errorf("completed %d requests in 2s at 1000/s, want 2000 ±1%%", got)
		}
		if res.Total.Scheduled != 2000 {
			t.Errorf("scheduled %d, want exactly 2000", res.Total.Scheduled)
		}
		// The generator can never send faster than its schedule; how close it
		// gets from below depends on the machine (bench/ measures that).
		if rate := res.SendRate(); rate > 1001 || rate < 500 {
			t.Errorf("send rate %.1f/s, want at most 1000/s and not far below", rate)
		}
	})
}

func TestIntervalsMergeExactlyIntoTotal(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, eng Engine) {
		_, target := server(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("fail") != "" {
				w.WriteHeader(500)
			}
		})
		failing := target
		failing.URL = mustURL(t, target.URL.String()+"?fail=1")
		failing.Name = "failing"
		var (
			mu        sync.Mutex
			intervals []*Stats
		)
		res := mustRun(t, context.Background(), Options{Engine: eng,
			Targets: []Target{target, failing}, Model: Open, Rate: 400, Duration: 2500 * time.Millisecond,
			Interval: 500 * time.Millisecond,
			OnInterval: func(s *Stats) {
				mu.Lock()
				intervals = append(intervals, s)
				mu.Unlock()
			},
		})
		if len(intervals) < 5 || len(intervals) != res.Intervals {
			t.Fatalf("got %d intervals (result says %d), want at least 5", len(intervals), res.Intervals)
		}
		merged := NewStats(time.Time{}, time.Time{})
		for i, iv := range intervals {
			if i > 0 && !iv.Start.Equal(intervals[i-1].End) {
				t.Errorf("interval %d starts at %v, previous ended at %v", i, iv.Start, intervals[i-1].End)
			}
			merged.Merge(iv)
		}
		for _, name := range []string{"GET /", "failing"} {
			if !merged.Latency(name).Equals(res.Total.Latency(name)) {
				t.Errorf("%s: merged interval latency differs from the total", name)
			}
			if merged.Completed(name) != 500 {
				t.Errorf("%s: %d completed, want 500 (weights 1:1 of 1000)", name, merged.Completed(name))
			}
		}
		if merged.Failed("failing") != 500 || merged.StatusCounts("failing")[500] != 500 {
			t.Errorf("failing: %d failed, statuses %v; want 500 failed with status 500", merged.Failed("failing"), merged.StatusCounts("failing"))
		}
		if merged.Failed("GET /") != 0 {
			t.Errorf("GET /: %d failed, want 0", merged.Failed("GET /"))
		}
	})
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	tg, err := NewTarget("GET", raw)
	if err != nil {
		t.Fatal(err)
	}
	return tg.URL
}

func TestRefusedTargetIsClassified(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, eng Engine) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close() // nothing listens there now
		target, _ := NewTarget("GET", "http://"+addr+"/")
		res := mustRun(t, context.Background(), Options{Engine: eng, Targets: []Target{target}, Model: Open, Rate: 100, Duration: time.Second})
		if res.Total.Responses("") != 0 {
			t.Errorf("got %d responses from a closed port", res.Total.Responses(""))
		}
		if got := res.Total.ErrorsByClass("")[ErrRefused]; got != 100 {
			t.Errorf("refused = %d, want 100 (errors: %v)", got, res.Total.ErrorsByClass(""))
		}
	})
}

func TestTimeoutIsClassified(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, eng Engine) {
		// A listener that accepts and never answers.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var conns sync.WaitGroup
		done := make(chan struct{})
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				conns.Add(1)
				go func() { defer conns.Done(); <-done; c.Close() }()
			}
		}()
		t.Cleanup(func() { l.Close(); close(done); conns.Wait() })
		target, _ := NewTarget("GET", "http://"+l.Addr().String()+"/")
		res := mustRun(t, context.Background(), Options{Engine: eng,
			Targets: []Target{target}, Model: Open, Rate: 20, Duration: time.Second, Timeout: 200 * time.Millisecond,
		})
		if got := res.Total.ErrorsByClass("")[ErrTimeout]; got != 20 {
			t.Errorf("timeouts = %d, want 20 (errors: %v)", got, res.Total.ErrorsByClass(""))
		}
	})
}

func TestMaxInFlightDropsAndCounts(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, eng Engine) {
		release := make(chan struct{})
		_, target := server(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		timer := time.AfterFunc(time.Second, func() { close(release) })
		defer timer.Stop()
		res := mustRun(t, context.Background(), Options{Engine: eng,
			Targets: []Target{target}, Model: Open, Rate: 500, Duration: 2 * time.Second,
			Connections: 10, MaxInFlight: 50,
		})
		tot := res.Total
		if tot.Dropped == 0 {
			t.Fatalf("nothing dropped with 50 allowed in flight during a 1s stall at 500/s")
		}
		if got := tot.Completed("") + tot.Dropped + tot.Unfinished; got != tot.Scheduled {
			t.Errorf("completed %d + dropped %d + unfinished %d = %d, want scheduled %d", tot.Completed(""), tot.Dropped, tot.Unfinished, got, tot.Scheduled)
		}
	})
}

func TestInterruptStopsPromptly(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, eng Engine) {
		_, target := server(t, func(w http.ResponseWriter, r *http.Request) {})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(500*time.Millisecond, cancel)
		began := time.Now()
		res := mustRun(t, ctx, Options{Engine: eng, Targets: []Target{target}, Model: Open, Rate: 200, Duration: time.Minute})
		if !res.Interrupted {
			t.Error("result not marked interrupted")
		}
		if took := time.Since(began); took > 10*time.Second {
			t.Errorf("took %v to stop after cancel", took)
		}
		if res.Total.Completed("") == 0 {
			t.Error("nothing recorded before the interrupt")
		}
	})
}

func TestHTTP2(t *testing.T) {
	t.Parallel()
	var h2 atomic.Int64
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 {
			h2.Add(1)
		}
		w.Write([]byte("hello"))
	})
	// h2c with prior knowledge.
	plain := httptest.NewUnstartedServer(handler)
	plain.Config.Protocols = new(http.Protocols)
	plain.Config.Protocols.SetHTTP1(true)
	plain.Config.Protocols.SetUnencryptedHTTP2(true)
	plain.Start()
	t.Cleanup(plain.Close)
	// h2 over TLS, trusting the test CA from a file.
	secure := httptest.NewUnstartedServer(handler)
	secure.EnableHTTP2 = true
	secure.StartTLS()
	t.Cleanup(secure.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: secure.Certificate().Raw})
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		url  string
		tls  TLSOptions
	}{
		{"h2c", plain.URL + "/", TLSOptions{}},
		{"h2 tls", secure.URL + "/", TLSOptions{CAFile: caFile}},
	} {
		h2.Store(0)
		target, _ := NewTarget("GET", c.url)
		res := mustRun(t, context.Background(), Options{
			Targets: []Target{target}, Model: Open, Rate: 100, Duration: time.Second, HTTP2: true, TLS: c.tls, Connections: 2,
		})
		if res.Total.Failed("") != 0 || res.Total.Completed("") != 100 {
			t.Errorf("%s: %d completed, %d failed (%v), want 100 and 0", c.name, res.Total.Completed(""), res.Total.Failed(""), res.Total.ErrorsByClass(""))
		}
		if h2.Load() != 100 {
			t.Errorf("%s: server saw %d HTTP/2 requests, want 100", c.name, h2.Load())
		}
	}
}

func TestHTTPSWithHTTP1(t *testing.T) {
	t.Parallel()
	var seen atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 1 {
			seen.Add(1)
		}
	}))
	t.Cleanup(srv.Close)
	target, _ := NewTarget("GET", srv.URL+"/")
	// Without trust, every request fails the handshake.
	res := mustRun(t, context.Background(), Options{Targets: []Target{target}, Model: Open, Rate: 20, Duration: time.Second})
	if got := res.Total.ErrorsByClass("")[ErrTLS]; got != 20 {
		t.Errorf("untrusted certificate: tls errors = %d, want 20 (%v)", got, res.Total.ErrorsByClass(""))
	}
	res = mustRun(t, context.Background(), Options{Targets: []Target{target}, Model: Open, Rate: 20, Duration: time.Second, TLS: TLSOptions{Insecure: true}})
	if res.Total.Failed("") != 0 || seen.Load() != 20 {
		t.Errorf("insecure: %d failed, server saw %d HTTP/1.1 requests; want 0 and 20", res.Total.Failed(""), seen.Load())
	}
}

func TestClosedModelThinkTimeAndRamp(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, eng Engine) {
		var maxActive, active atomic.Int64
		_, target := server(t, func(w http.ResponseWriter, r *http.Request) {
			n := active.Add(1)
			for {
				m := maxActive.Load()
				if n <= m || maxActive.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
			active.Add(-1)
		})
		res := mustRun(t, context.Background(), Options{Engine: eng,
			Targets: []Target{target}, Model: Closed, Concurrency: 4, ThinkTime: 45 * time.Millisecond, Duration: 2 * time.Second,
		})
		// Each user completes a request every ~50ms: about 4 x 40 = 160.
		if n := res.Total.Completed(""); n < 80 || n > 170 {
			t.Errorf("completed %d requests with 4 users thinking 45ms, want about 160", n)
		}
		if maxActive.Load() > 4 {
			t.Errorf("server saw %d concurrent requests from 4 users", maxActive.Load())
		}
		if res.Total.SendLag.TotalCount() != 0 {
			t.Error("the closed model recorded send lag")
		}
		ramp := mustRun(t, context.Background(), Options{Engine: eng,
			Targets: []Target{target}, Model: Closed, Stages: []Stage{{Duration: time.Second, Target: 8}, {Duration: time.Second, Target: 0}},
		})
		if ramp.Total.Completed("") == 0 {
			t.Error("a ramp of users sent nothing")
		}
	})
}

func TestBodyAndHeadersReachTheServer(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, eng Engine) {
		var got atomic.Pointer[string]
		_, target := server(t, func(w http.ResponseWriter, r *http.Request) {
			b := make([]byte, 64)
			n, _ := r.Body.Read(b)
			s := r.Method + " " + r.Header.Get("X-Test") + " " + string(b[:n])
			got.Store(&s)
		})
		target.Method = "POST"
		target.Header.Set("X-Test", "yes")
		target.Body = []byte(`{"a":1}`)
		res := mustRun(t, context.Background(), Options{Engine: eng, Targets: []Target{target}, Model: Open, Rate: 10, Duration: 300 * time.Millisecond})
		if res.Total.Failed("") != 0 {
			t.Fatalf("failed: %v", res.Total.ErrorsByClass(""))
		}
		if s := got.Load(); s == nil || *s != `POST yes {"a":1}` {
			t.Errorf("server saw %v", s)
		}
		in, out := res.Total.Bytes("")
		if in == 0 || out == 0 {
			t.Errorf("bytes in %d out %d, want both counted", in, out)
		}
	})
}
