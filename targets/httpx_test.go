package targets

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestUpstreamMaxConnAge checks that a link reuses one connection for
// sequential requests, and that with links.max_conn_age each request past
// the age dials a new one (and the old one is closed, not kept idle).
func TestUpstreamMaxConnAge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		maxAge time.Duration
		want   int64 // connections for 5 sequential requests
	}{
		{"kept alive", 0, 1},
		{"long age", time.Hour, 1},
		{"every request past the age", time.Nanosecond, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var opened, closed atomic.Int64
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				switch s {
				case http.StateNew:
					opened.Add(1)
				case http.StateClosed:
					closed.Add(1)
				}
			}
			srv.Start()
			defer srv.Close()
			u, err := newUpstream("gateway->catalog", srv.URL, tc.maxAge)
			if err != nil {
				t.Fatal(err)
			}
			defer u.close()
			for range 5 {
				code, _, err := u.call(t.Context(), http.MethodGet, "/", nil, "", time.Second)
				if err != nil || code != http.StatusOK {
					t.Fatalf("call: %d %v", code, err)
				}
			}
			if got := opened.Load(); got != tc.want {
				t.Errorf("%d connections opened, want %d", got, tc.want)
			}
			// Every connection but the last is closed by a rotation.
			deadline := time.Now().Add(5 * time.Second)
			for closed.Load() < tc.want-1 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if got := closed.Load(); got != tc.want-1 {
				t.Errorf("%d connections closed, want %d", got, tc.want-1)
			}
		})
	}
}
