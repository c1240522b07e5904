package loadgen

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestH1KeepsTheStartOfAFailingBody(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 300)
	cases := []struct {
		name, reply string
		wantBody    string
		wantMore    bool
	}{
		{"content-length", "HTTP/1.1 400 Bad Request\r\nContent-Length: 21\r\n\r\n{\"error\":\"bad body\"}\n", "{\"error\":\"bad body\"}\n", false},
		{"long", "HTTP/1.1 500 Oops\r\nContent-Length: 300\r\n\r\n" + long, long[:FailureBodyBytes], true},
		{"chunked", "HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello", true},
		{"until close", "HTTP/1.1 502 Bad Gateway\r\n\r\nupstream gone", "upstream gone", false},
		{"success keeps nothing", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "", false},
		{"no body", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newH1Conn(&endpoint{addr: rawServer(t, c.reply)}, time.Second)
			defer h.close()
			if _, _, err := h.roundTrip([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false, time.Now().Add(5*time.Second), 5*time.Second); err != nil {
				t.Fatal(err)
			}
			body, more := h.failureBody()
			if string(body) != c.wantBody || more != c.wantMore {
				t.Errorf("kept %q (more %v), want %q (more %v)", body, more, c.wantBody, c.wantMore)
			}
		})
	}
}

func TestFailureSamplesAreBoundedPerIntervalAndName(t *testing.T) {
	t.Parallel()
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/bad":
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"missing field \"sku\""}` + strings.Repeat(" ", 400)))
		case "/busy":
			http.Error(w, "busy", http.StatusServiceUnavailable)
		default:
			w.Write([]byte("ok"))
		}
	})
	h1 := httptest.NewServer(handler)
	t.Cleanup(h1.Close)
	h2 := httptest.NewUnstartedServer(handler)
	h2.Config.Protocols = new(http.Protocols)
	h2.Config.Protocols.SetHTTP1(true)
	h2.Config.Protocols.SetUnencryptedHTTP2(true)
	h2.Start()
	t.Cleanup(h2.Close)
	type runCase struct {
		name   string
		base   string
		http2  bool
		engine Engine
	}
	cases := []runCase{{"h2c", h2.URL, true, EngineAuto}}
	for _, eng := range testEngines() {
		cases = append(cases, runCase{"http/1.1 " + string(eng), h1.URL, false, eng})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var targets []Target
			for _, path := range []string{"/bad", "/busy", "/ok"} {
				tg, _ := NewTarget("GET", c.base+path)
				tg.Name = strings.TrimPrefix(path, "/")
				targets = append(targets, tg)
			}
			var intervals []*Stats
			res := mustRun(t, context.Background(), Options{
				Targets: targets, Model: Open, Rate: 300, Duration: time.Second, Interval: 250 * time.Millisecond,
				HTTP2: c.http2, Connections: 4, Engine: c.engine, OnInterval: func(s *Stats) { intervals = append(intervals, s) },
			})
			if res.Total.Failed("") != 200 {
				t.Fatalf("failed %d, want 200", res.Total.Failed(""))
			}
			for i, iv := range intervals {
				for _, name := range []string{"bad", "busy"} {
					if n := len(iv.FailuresOf(name)); n > FailureSamplesPerName || (iv.Failed(name) > 0 && n == 0) {
						t.Errorf("interval %d: %d samples of %s for %d failures", i, n, name, iv.Failed(name))
					}
				}
			}
			if n := len(res.Total.FailuresOf("ok")); n != 0 {
				t.Errorf("%d failure samples of a request that never failed", n)
			}
			bad := res.Total.FailuresOf("bad")
			if len(bad) != FailureSamplesPerName {
				t.Fatalf("the run kept %d samples of bad, want %d", len(bad), FailureSamplesPerName)
			}
			f := bad[0]
			if f.Status != 400 || !strings.HasPrefix(f.Body, `{"error":"missing field \"sku\""}`) || len(f.Body) != FailureBodyBytes || !f.Truncated {
				t.Errorf("sample of bad = status %d, %d bytes %q, truncated %v", f.Status, len(f.Body), f.Body, f.Truncated)
			}
			busy := res.Total.FailuresOf("busy")
			if len(busy) == 0 || busy[0].Status != 503 || busy[0].Body != "busy\n" || busy[0].Truncated {
				t.Errorf("samples of busy = %+v", busy)
			}
		})
	}
}

func TestTransportFailureSampleHoldsTheError(t *testing.T) {
	t.Parallel()
	rec := newRecorder([]Target{{Name: "a"}}, 1)
	err := &tlsError{errors.New("certificate signed by unknown authority")}
	rec.record(0, 0, &sample{errClass: ErrTLS, err: err})
	rec.record(0, 0, &sample{errClass: ErrRefused, err: syscall.ECONNREFUSED})
	st := NewStats(time.Time{}, time.Time{})
	rec.drain(st)
	if len(st.Failures) != 2 || st.Failures[0].Error != ErrTLS || st.Failures[0].Body != err.Error() || st.Failures[1].Error != ErrRefused {
		t.Errorf("samples = %+v", st.Failures)
	}
}

func TestRecordingASuccessDoesNotAllocate(t *testing.T) {
	rec := newRecorder([]Target{{Name: "a"}, {Name: "b"}}, 2)
	ok := &sample{latency: time.Millisecond, service: time.Millisecond, status: 200, in: 100, out: 50}
	rec.record(0, 0, ok) // the first record of a series creates it
	if n := testing.AllocsPerRun(1000, func() { rec.record(0, 0, ok) }); n != 0 {
		t.Errorf("recording a success allocates %.1f times", n)
	}
	// Once a name's samples are full, a failure costs no allocation either.
	body := []byte("bad request")
	failed := &sample{latency: time.Millisecond, status: 400, body: body}
	for i := 0; i < FailureSamplesPerName+1; i++ {
		rec.record(1, 1, failed)
	}
	if n := testing.AllocsPerRun(1000, func() { rec.record(1, 1, failed) }); n != 0 {
		t.Errorf("recording a failure past the sample bound allocates %.1f times", n)
	}
}

func TestAddFailureKeepsEveryKindItCan(t *testing.T) {
	t.Parallel()
	s := NewStats(time.Time{}, time.Time{})
	for _, status := range []int{400, 400, 400, 400, 503, 503, 500} {
		s.AddFailure(FailureSample{Name: "a", Status: status})
	}
	s.AddFailure(FailureSample{Name: "b", Error: ErrTimeout})
	var got []int
	for _, f := range s.FailuresOf("a") {
		got = append(got, f.Status)
	}
	if len(got) != 3 || !containsAll(got, 400, 503, 500) {
		t.Errorf("kept statuses %v of a, want 400, 503 and 500", got)
	}
	if len(s.FailuresOf("b")) != 1 || len(s.Failures) != 4 {
		t.Errorf("failures = %+v", s.Failures)
	}
}

func containsAll(xs []int, want ...int) bool {
	for _, w := range want {
		found := false
		for _, x := range xs {
			found = found || x == w
		}
		if !found {
			return false
		}
	}
	return true
}

func TestFailureBodyIsCutAtACharacter(t *testing.T) {
	t.Parallel()
	body := []byte(strings.Repeat("a", FailureBodyBytes-1) + "é and more")
	f := newFailureSample("a", 500, "", body, "", false)
	if len(f.Body) != FailureBodyBytes-1 || !f.Truncated {
		t.Errorf("kept %d bytes (truncated %v), want %d and true", len(f.Body), f.Truncated, FailureBodyBytes-1)
	}
}
