package targets

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeUpstream is an httptest server standing in for catalog or orders.
func fakeUpstream(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// gatewayAlone starts only the gateway, its links pointed at srv.
func gatewayAlone(t *testing.T, cfg Config, srv *httptest.Server) *Shop {
	t.Helper()
	return startShop(t, cfg, StartOptions{
		Only:      []string{Gateway},
		Upstreams: map[string]string{"gateway->catalog": srv.URL, "gateway->orders": srv.URL},
	})
}

func TestServicesCommonEndpoints(t *testing.T) {
	t.Parallel()
	shop := startShop(t, testConfig(), StartOptions{})
	c := newClient(t)
	for _, name := range Services() {
		for _, path := range []string{"/healthz", "/readyz"} {
			r := get(t, c, shop.URL(name)+path)
			if r.code != http.StatusOK || r.header.Get(RequestIDHeader) == "" {
				t.Errorf("%s %s = %d (request id %q)", name, path, r.code, r.header.Get(RequestIDHeader))
			}
		}
		r := get(t, c, shop.URL(name)+"/metrics")
		if r.code != http.StatusOK || !strings.Contains(r.body, `faultline_http_requests_total{code="200",method="GET",route="/healthz",service="`+name+`"} 1`) {
			t.Errorf("%s /metrics = %d:\n%s", name, r.code, r.body)
		}
		if r := get(t, c, shop.URL(name)+"/nope"); r.code != http.StatusNotFound {
			t.Errorf("%s /nope = %d, want 404", name, r.code)
		}
	}
}

func TestGatewayRoutesAndRequestID(t *testing.T) {
	t.Parallel()
	shop := startShop(t, testConfig(), StartOptions{})
	c := newClient(t)
	r := do(t, c, http.MethodGet, shop.URL(Gateway)+"/api/products/p042", "", map[string]string{RequestIDHeader: "req-1"})
	var p Product
	if r.code != http.StatusOK || json.Unmarshal([]byte(r.body), &p) != nil || p != SeedProducts(42)[41] {
		t.Fatalf("GET /api/products/p042 = %d %s", r.code, r.body)
	}
	if r.header.Get(RequestIDHeader) != "req-1" || r.header.Get(UpstreamHeader) != Catalog || r.header.Get(CacheHeader) != "MISS" {
		t.Errorf("headers %v", r.header)
	}
	r = get(t, c, shop.URL(Gateway)+"/api/products")
	var list struct{ Products []Product }
	if r.code != http.StatusOK || json.Unmarshal([]byte(r.body), &list) != nil || len(list.Products) != 100 || list.Products[99].ID != "p100" {
		t.Fatalf("GET /api/products = %d, %d products", r.code, len(list.Products))
	}
	if r := get(t, c, shop.URL(Gateway)+"/api/products/p999"); r.code != http.StatusNotFound {
		t.Errorf("unknown product = %d, want 404", r.code)
	}
	if r := get(t, c, shop.URL(Gateway)+"/api/other"); r.code != http.StatusNotFound {
		t.Errorf("unknown route = %d, want 404", r.code)
	}
	// The request ID reached catalog's and store's logs of the request:
	// both count it under their own routes.
	fams := scrape(t, c, shop.URL(Store))
	if n := metricSum(fams, "faultline_http_requests_total", map[string]string{"route": "/kv/{key}", "code": "200"}); n != 1 {
		t.Errorf("store served %v product reads, want 1", n)
	}
}

func TestGatewayRateLimit(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Gateway.RateLimit = RateLimitConfig{Enabled: true, Rate: 0.1, Burst: 5, KeyHeader: "X-Client-Key", MaxClients: 10}
	srv := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) })
	shop := gatewayAlone(t, cfg, srv)
	c := newClient(t)
	hdr := map[string]string{"X-Client-Key": "alice"}
	for i := range 5 {
		if r := do(t, c, http.MethodGet, shop.URL(Gateway)+"/api/products", "", hdr); r.code != http.StatusOK {
			t.Fatalf("request %d of the burst = %d", i, r.code)
		}
	}
	r := do(t, c, http.MethodGet, shop.URL(Gateway)+"/api/products", "", hdr)
	if r.code != http.StatusTooManyRequests || r.header.Get(ReasonHeader) != "rate_limited" {
		t.Fatalf("request after the burst = %d %v, want 429", r.code, r.header)
	}
	if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 || ra > 10 {
		t.Errorf("Retry-After = %q, want 1 to 10 (one token per 10s)", r.header.Get("Retry-After"))
	}
	// Another key has its own bucket.
	if r := do(t, c, http.MethodGet, shop.URL(Gateway)+"/api/products", "", map[string]string{"X-Client-Key": "bob"}); r.code != http.StatusOK {
		t.Errorf("another client = %d, want 200", r.code)
	}
	fams := scrape(t, c, shop.URL(Gateway))
	if n := metricSum(fams, "faultline_gateway_rate_limited_total", nil); n != 1 {
		t.Errorf("rate_limited_total = %v, want 1", n)
	}
}

func TestGatewayRetries(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Gateway.Retry = RetryConfig{Enabled: true, MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, Multiplier: 2}
	cfg.Gateway.Breaker.Enabled = false
	var calls atomic.Int64
	srv := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":"down"}`))
	})
	shop := gatewayAlone(t, cfg, srv)
	c := newClient(t)
	tests := []struct {
		name, method, path string
		header             map[string]string
		wantCalls          int64
	}{
		{"GET is retried", http.MethodGet, "/api/products/p001", nil, 3},
		{"PUT is retried", http.MethodPut, "/api/orders/o1", nil, 3},
		{"POST is not", http.MethodPost, "/api/orders", nil, 1},
		{"POST with an Idempotency-Key is", http.MethodPost, "/api/orders", map[string]string{IdempotencyKeyHeader: "k"}, 3},
	}
	for _, tt := range tests {
		calls.Store(0)
		r := do(t, c, tt.method, shop.URL(Gateway)+tt.path, `{"items":[]}`, tt.header)
		if r.code != http.StatusServiceUnavailable || calls.Load() != tt.wantCalls || r.header.Get(AttemptsHeader) != strconv.FormatInt(tt.wantCalls, 10) {
			t.Errorf("%s: %d after %d calls (attempts header %q); want 503 after %d", tt.name, r.code, calls.Load(), r.header.Get(AttemptsHeader), tt.wantCalls)
		}
	}

	// A failure followed by success is hidden from the client.
	var n atomic.Int64
	flaky := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) < 3 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.Write([]byte(`{"ok":true}`))
	})
	shop2 := gatewayAlone(t, cfg, flaky)
	r := get(t, c, shop2.URL(Gateway)+"/api/products")
	if r.code != http.StatusOK || r.header.Get(AttemptsHeader) != "3" {
		t.Errorf("flaky upstream: %d after %s attempts, want 200 after 3", r.code, r.header.Get(AttemptsHeader))
	}
	fams := scrape(t, c, shop2.URL(Gateway))
	if got := metricSum(fams, "faultline_gateway_retries_total", map[string]string{"upstream": "catalog"}); got != 2 {
		t.Errorf("retries_total = %v, want 2", got)
	}
}

func TestGatewayTimeout(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Gateway.Timeout = TimeoutConfig{Enabled: true, Duration: 50 * time.Millisecond}
	cfg.Gateway.Retry.Enabled = false
	srv := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	shop := gatewayAlone(t, cfg, srv)
	c := newClient(t)
	start := time.Now()
	r := get(t, c, shop.URL(Gateway)+"/api/products")
	if r.code != http.StatusGatewayTimeout || r.header.Get(ReasonHeader) != "upstream_timeout" {
		t.Fatalf("slow upstream = %d %v, want 504", r.code, r.header)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("answered after %s; the 50ms timeout did not cut the call", d)
	}
}

func TestGatewayBulkhead(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Gateway.Bulkhead = BulkheadConfig{Enabled: true, MaxConcurrent: 2}
	cfg.Gateway.Retry.Enabled = false
	release := make(chan struct{})
	var inside atomic.Int64
	srv := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/products") {
			inside.Add(1)
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		w.Write([]byte("{}"))
	})
	shop := gatewayAlone(t, cfg, srv)
	c := newClient(t)
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Go(func() { codes[i] = get(t, c, shop.URL(Gateway)+"/api/products").code })
	}
	eventually(t, 5*time.Second, "two calls inside the upstream", func() bool { return inside.Load() == 2 })
	r := get(t, c, shop.URL(Gateway)+"/api/products/p001")
	if r.code != http.StatusServiceUnavailable || r.header.Get(ReasonHeader) != "bulkhead_full" {
		t.Errorf("third concurrent call = %d %v, want 503 bulkhead_full", r.code, r.header)
	}
	// Orders has its own bulkhead: a full catalog does not starve it.
	if r := get(t, c, shop.URL(Gateway)+"/api/orders/o1"); r.code != http.StatusOK {
		t.Errorf("orders while catalog's bulkhead is full = %d, want 200", r.code)
	}
	close(release)
	wg.Wait()
	if codes[0] != http.StatusOK || codes[1] != http.StatusOK {
		t.Errorf("calls inside the bulkhead = %v, want 200s", codes)
	}
	fams := scrape(t, c, shop.URL(Gateway))
	if got := metricSum(fams, "faultline_gateway_bulkhead_rejected_total", map[string]string{"upstream": "catalog"}); got != 1 {
		t.Errorf("bulkhead_rejected_total = %v, want 1", got)
	}
}

// TestGatewayBreakerOverHTTP crashes catalog and watches the gateway's
// breaker open after the configured failures, fail fast, half-open after
// the cool-down and close on success once catalog is back.
func TestGatewayBreakerOverHTTP(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Gateway.Retry.Enabled = false
	cfg.Gateway.Breaker = BreakerConfig{Enabled: true, Window: 10 * time.Second, MinRequests: 5, FailureRate: 0.5, CoolDown: 2 * time.Second, HalfOpenRequests: 1}
	shop := startShop(t, cfg, StartOptions{})
	c := newClient(t)
	url := shop.URL(Gateway) + "/api/products/p001"
	if r := get(t, c, url); r.code != http.StatusOK {
		t.Fatalf("before the crash: %d", r.code)
	}
	ctx := context.Background()
	if err := shop.Service(Catalog).Crash(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if r := get(t, c, url); r.code != http.StatusBadGateway || r.header.Get(ReasonHeader) != "upstream_error" {
			t.Fatalf("failure %d = %d %s, want 502 upstream_error", i+1, r.code, r.header.Get(ReasonHeader))
		}
	}
	// 4 failures of 5 calls (min 5, rate 0.5): this one opens it.
	get(t, c, url)
	fams := scrape(t, c, shop.URL(Gateway))
	if s := metricSum(fams, "faultline_gateway_breaker_state", map[string]string{"upstream": "catalog"}); s != float64(BreakerOpen) {
		t.Fatalf("breaker state %v, want open (1)", s)
	}
	r := get(t, c, url)
	if ra := r.header.Get("Retry-After"); r.code != http.StatusServiceUnavailable || r.header.Get(ReasonHeader) != "breaker_open" || (ra != "1" && ra != "2") {
		t.Fatalf("while open = %d %v, want 503 breaker_open, Retry-After 1 or 2", r.code, r.header)
	}
	if err := shop.Service(Catalog).Restore(ctx); err != nil {
		t.Fatal(err)
	}
	// Orders' breaker is not affected.
	if s := metricSum(fams, "faultline_gateway_breaker_state", map[string]string{"upstream": "orders"}); s != float64(BreakerClosed) {
		t.Errorf("orders breaker %v, want closed", s)
	}
	eventually(t, 10*time.Second, "breaker half-opens and closes", func() bool {
		return get(t, c, url).code == http.StatusOK
	})
	fams = scrape(t, c, shop.URL(Gateway))
	if s := metricSum(fams, "faultline_gateway_breaker_state", map[string]string{"upstream": "catalog"}); s != float64(BreakerClosed) {
		t.Errorf("breaker state %v after a good probe, want closed (0)", s)
	}
	for _, to := range []string{"open", "half-open", "closed"} {
		if n := metricSum(fams, "faultline_gateway_breaker_transitions_total", map[string]string{"upstream": "catalog", "to": to}); n != 1 {
			t.Errorf("transitions to %s = %v, want 1", to, n)
		}
	}
	if n := metricSum(fams, "faultline_gateway_upstream_requests_total", map[string]string{"upstream": "catalog", "outcome": "breaker_open"}); n < 1 {
		t.Errorf("no call was refused by the breaker")
	}
}

func TestCatalogCacheAndStale(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		serveStale bool
		wantCode   int
		wantCache  string
	}{
		{"serves stale when store is down", true, http.StatusOK, "STALE"},
		{"503 without stale serving", false, http.StatusServiceUnavailable, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.Catalog.Cache.TTL = time.Second
			cfg.Catalog.Cache.ServeStale = tt.serveStale
			cfg.Catalog.StoreTimeout = 5 * time.Second
			shop := startShop(t, cfg, StartOptions{Only: []string{Store, Catalog}})
			c := newClient(t)
			url := shop.URL(Catalog) + "/products/p001"
			if r := get(t, c, url); r.code != http.StatusOK || r.header.Get(CacheHeader) != "MISS" {
				t.Fatalf("first read = %d %s %s", r.code, r.header.Get(CacheHeader), r.body)
			}
			if r := get(t, c, url); r.code != http.StatusOK || r.header.Get(CacheHeader) != "HIT" {
				t.Fatalf("second read = %d %s, want a HIT", r.code, r.header.Get(CacheHeader))
			}
			if err := shop.Service(Store).Crash(context.Background()); err != nil {
				t.Fatal(err)
			}
			time.Sleep(1100 * time.Millisecond) // let the entry expire (TTL 1s)
			r := get(t, c, url)
			if r.code != tt.wantCode || r.header.Get(CacheHeader) != tt.wantCache {
				t.Fatalf("read with store down = %d X-Cache %q, want %d %q (%s)", r.code, r.header.Get(CacheHeader), tt.wantCode, tt.wantCache, r.body)
			}
			if tt.serveStale && (!strings.Contains(r.body, `"id":"p001"`) || r.header.Get("Warning") == "") {
				t.Errorf("stale answer %q, Warning %q", r.body, r.header.Get("Warning"))
			}
			// Never cached: nothing to fall back on.
			if r := get(t, c, shop.URL(Catalog)+"/products/p002"); r.code != http.StatusServiceUnavailable {
				t.Errorf("uncached read with store down = %d, want 503", r.code)
			}
			if err := shop.Service(Store).Restore(context.Background()); err != nil {
				t.Fatal(err)
			}
			if r := get(t, c, url); r.code != http.StatusOK || r.header.Get(CacheHeader) != "MISS" {
				t.Errorf("after restore = %d %s, want a fresh MISS", r.code, r.header.Get(CacheHeader))
			}
			fams := scrape(t, c, shop.URL(Catalog))
			wantStale := 0.0
			if tt.serveStale {
				wantStale = 1
			}
			checks := map[string]float64{
				"faultline_catalog_cache_hits_total":   1,
				"faultline_catalog_cache_misses_total": 4,
				"faultline_catalog_stale_served_total": wantStale,
				"faultline_catalog_store_errors_total": 2,
				"faultline_catalog_cache_entries":      1,
			}
			for name, want := range checks {
				if got := metricSum(fams, name, nil); got != want {
					t.Errorf("%s = %v, want %v", name, got, want)
				}
			}
		})
	}
}

func TestCatalogCacheOff(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Catalog.Cache.Enabled = false
	shop := startShop(t, cfg, StartOptions{Only: []string{Store, Catalog}})
	c := newClient(t)
	for range 2 {
		if r := get(t, c, shop.URL(Catalog)+"/products/p003"); r.code != http.StatusOK || r.header.Get(CacheHeader) != "BYPASS" {
			t.Fatalf("read = %d %s, want BYPASS", r.code, r.header.Get(CacheHeader))
		}
	}
	fams := scrape(t, c, shop.URL(Store))
	if n := metricSum(fams, "faultline_http_requests_total", map[string]string{"route": "/kv/{key}"}); n != 2 {
		t.Errorf("store reads = %v, want 2 (no cache)", n)
	}
}

func postOrder(t *testing.T, c *http.Client, url, key, body string) reply {
	t.Helper()
	h := map[string]string{}
	if key != "" {
		h[IdempotencyKeyHeader] = key
	}
	return do(t, c, http.MethodPost, url, body, h)
}

func TestOrdersIdempotency(t *testing.T) {
	t.Parallel()
	for _, queued := range []bool{true, false} {
		t.Run("queue="+strconv.FormatBool(queued), func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.Orders.Queue.Enabled = queued
			shop := startShop(t, cfg, StartOptions{})
			c := newClient(t)
			url := shop.URL(Gateway) + "/api/orders"
			body := `{"items":[{"product_id":"p001","quantity":2}]}`
			wantCode := http.StatusAccepted
			if !queued {
				wantCode = http.StatusCreated
			}
			first := postOrder(t, c, url, "key-1", body)
			var o1 Order
			if first.code != wantCode || json.Unmarshal([]byte(first.body), &o1) != nil || o1.ID == "" {
				t.Fatalf("first POST = %d %s", first.code, first.body)
			}
			again := postOrder(t, c, url, "key-1", body)
			if again.code != wantCode || again.body != first.body || again.header.Get(ReplayedHeader) != "true" {
				t.Fatalf("retry = %d %s (replayed %q), want the same order", again.code, again.body, again.header.Get(ReplayedHeader))
			}
			if r := postOrder(t, c, url, "key-1", `{"items":[{"product_id":"p002","quantity":1}]}`); r.code != http.StatusUnprocessableEntity {
				t.Errorf("same key, other body = %d, want 422", r.code)
			}
			other := postOrder(t, c, url, "key-2", body)
			if other.code != wantCode || strings.Contains(other.body, o1.ID) {
				t.Errorf("another key = %d %s, want a new order", other.code, other.body)
			}
			// Without a key every POST is a new order.
			a, b := postOrder(t, c, url, "", body), postOrder(t, c, url, "", body)
			if a.body == b.body {
				t.Error("two POSTs without a key returned the same order")
			}
			// Concurrent retries with one key make one order.
			var wg sync.WaitGroup
			bodies := make([]string, 8)
			for i := range bodies {
				wg.Go(func() { bodies[i] = postOrder(t, c, url, "key-3", body).body })
			}
			wg.Wait()
			for _, b := range bodies[1:] {
				if b != bodies[0] {
					t.Fatalf("concurrent POSTs with one key got different orders: %q vs %q", b, bodies[0])
				}
			}
			eventually(t, 10*time.Second, "order stored", func() bool {
				r := get(t, c, shop.URL(Gateway)+"/api/orders/"+o1.ID)
				return r.code == http.StatusOK && strings.Contains(r.body, `"status":"stored"`)
			})
			fams := scrape(t, c, shop.URL(Orders))
			if n := metricSum(fams, "faultline_orders_created_total", nil); n != 5 {
				t.Errorf("orders created = %v, want 5 (key-1, key-2, two without key, key-3)", n)
			}
			if n := metricSum(fams, "faultline_orders_idempotent_replays_total", nil); n != 8 {
				t.Errorf("replays = %v, want 8", n)
			}
			if r := get(t, c, shop.URL(Gateway)+"/api/orders/o-nope"); r.code != http.StatusNotFound {
				t.Errorf("unknown order = %d, want 404", r.code)
			}
		})
	}
}

func TestOrdersBadRequests(t *testing.T) {
	t.Parallel()
	shop := startShop(t, testConfig(), StartOptions{Only: []string{Store, Orders}})
	c := newClient(t)
	for _, body := range []string{``, `{}`, `{"items":[]}`, `{"items":[{"product_id":"","quantity":1}]}`, `{"items":[{"product_id":"p1","quantity":0}]}`, `{"items":[{"product_id":"p1","quantity":1}],"x":1}`, `not json`} {
		if r := postOrder(t, c, shop.URL(Orders)+"/orders", "", body); r.code != http.StatusBadRequest {
			t.Errorf("POST %q = %d, want 400", body, r.code)
		}
	}
}

// TestOrdersQueueBuffersStoreOutage crashes store: orders are still
// accepted, wait in the queue (its depth is exposed), and are written once
// store is back.
func TestOrdersQueueBuffersStoreOutage(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Orders.Queue = QueueConfig{Enabled: true, Capacity: 5, Workers: 1, MaxAttempts: 1000, RetryDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond}
	shop := startShop(t, cfg, StartOptions{Only: []string{Store, Orders}})
	c := newClient(t)
	if err := shop.Service(Store).Crash(context.Background()); err != nil {
		t.Fatal(err)
	}
	url := shop.URL(Orders) + "/orders"
	body := `{"items":[{"product_id":"p001","quantity":1}]}`
	var ids []string
	// One order in the worker's hands and five in the queue.
	for i := range 6 {
		r := postOrder(t, c, url, "", body)
		if r.code != http.StatusAccepted {
			t.Fatalf("order %d = %d %s", i, r.code, r.body)
		}
		var o Order
		json.Unmarshal([]byte(r.body), &o)
		ids = append(ids, o.ID)
		if i == 0 {
			eventually(t, 5*time.Second, "worker takes the first order", func() bool {
				return metricSum(scrape(t, c, shop.URL(Orders)), "faultline_orders_queue_depth", nil) == 0
			})
		}
	}
	if r := postOrder(t, c, url, "", body); r.code != http.StatusServiceUnavailable {
		t.Errorf("order beyond the queue = %d, want 503", r.code)
	}
	fams := scrape(t, c, shop.URL(Orders))
	if d := metricSum(fams, "faultline_orders_queue_depth", nil); d != 5 {
		t.Errorf("queue depth = %v, want 5", d)
	}
	if n := metricSum(fams, "faultline_orders_queue_rejected_total", nil); n != 1 {
		t.Errorf("queue rejected = %v, want 1", n)
	}
	if r := get(t, c, shop.URL(Orders)+"/orders/"+ids[3]); r.code != http.StatusOK || !strings.Contains(r.body, `"status":"pending"`) {
		t.Errorf("queued order = %d %s, want pending", r.code, r.body)
	}
	if err := shop.Service(Store).Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "queue drains", func() bool {
		return metricSum(scrape(t, c, shop.URL(Orders)), "faultline_orders_persisted_total", map[string]string{"outcome": "stored"}) == 6
	})
	r := get(t, c, shop.URL(Store)+"/kv/order:"+ids[5])
	if r.code != http.StatusOK || !strings.Contains(r.body, `"status":"stored"`) {
		t.Errorf("order in store = %d %s", r.code, r.body)
	}
}

func TestStore(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Store.Products = 3
	cfg.Store.MaxKeys = 4
	shop := startShop(t, cfg, StartOptions{Only: []string{Store}})
	c := newClient(t)
	base := shop.URL(Store)
	if r := get(t, c, base+"/kv/product:p003"); r.code != http.StatusOK || !strings.Contains(r.body, `"price_cents":399`) {
		t.Errorf("seeded p003 = %d %s", r.code, r.body)
	}
	if r := do(t, c, http.MethodPut, base+"/kv/a", `{"x":1}`, nil); r.code != http.StatusNoContent {
		t.Errorf("PUT = %d", r.code)
	}
	if r := do(t, c, http.MethodPut, base+"/kv/b", `{"x":2}`, nil); r.code != http.StatusInsufficientStorage {
		t.Errorf("PUT beyond max_keys = %d, want 507", r.code)
	}
	if r := do(t, c, http.MethodPut, base+"/kv/a", `{"x":3}`, nil); r.code != http.StatusNoContent {
		t.Errorf("overwrite when full = %d, want 204", r.code)
	}
	if r := do(t, c, http.MethodPut, base+"/kv/a", `nope`, nil); r.code != http.StatusBadRequest {
		t.Errorf("PUT of non-JSON = %d, want 400", r.code)
	}
	r := get(t, c, base+"/kv?prefix=product:&limit=2")
	var l kvList
	if r.code != http.StatusOK || json.Unmarshal([]byte(r.body), &l) != nil || len(l.Items) != 2 || !l.Truncated || l.Items[0].Key != "product:p001" {
		t.Errorf("list = %d %s", r.code, r.body)
	}
	if r := do(t, c, http.MethodDelete, base+"/kv/a", "", nil); r.code != http.StatusNoContent {
		t.Errorf("DELETE = %d", r.code)
	}
	if r := get(t, c, base+"/kv/a"); r.code != http.StatusNotFound {
		t.Errorf("GET deleted = %d, want 404", r.code)
	}
	if r := get(t, c, base+"/kv?limit=0"); r.code != http.StatusBadRequest {
		t.Errorf("limit=0 = %d, want 400", r.code)
	}
}

func TestStorePoolAndServiceTime(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Store.ServiceTime = ServiceTimeConfig{Enabled: true, Distribution: DistFixed, Fixed: 300 * time.Millisecond}
	cfg.Store.Pool = PoolConfig{Enabled: true, Size: 1, MaxQueue: 0, MaxWait: time.Second}
	shop := startShop(t, cfg, StartOptions{Only: []string{Store}})
	c := newClient(t)
	var wg sync.WaitGroup
	var first reply
	start := time.Now()
	wg.Go(func() { first = get(t, c, shop.URL(Store)+"/kv/product:p001") })
	eventually(t, 5*time.Second, "first request holds the pool", func() bool {
		return metricSum(scrape(t, c, shop.URL(Store)), "faultline_store_pool_in_use", nil) == 1
	})
	second := get(t, c, shop.URL(Store)+"/kv/product:p002")
	wg.Wait()
	if first.code != http.StatusOK || time.Since(start) < 300*time.Millisecond {
		t.Errorf("first = %d after %s, want 200 after the 300ms service time", first.code, time.Since(start))
	}
	if second.code != http.StatusServiceUnavailable || !strings.Contains(second.body, "pool queue full") {
		t.Errorf("second = %d %s, want 503 pool queue full", second.code, second.body)
	}
	fams := scrape(t, c, shop.URL(Store))
	if n := metricSum(fams, "faultline_store_pool_rejected_total", map[string]string{"reason": "queue_full"}); n != 1 {
		t.Errorf("pool rejected = %v, want 1", n)
	}
	if n := metricSum(fams, "faultline_store_service_time_seconds", nil); n != 1 {
		t.Errorf("service time observations = %v, want 1", n)
	}
}

func TestCrashRestore(t *testing.T) {
	t.Parallel()
	shop := startShop(t, testConfig(), StartOptions{Only: []string{Store}})
	svc := shop.Service(Store)
	c := newClient(t)
	addr := shop.Addr(Store)
	if r := get(t, c, shop.URL(Store)+"/healthz"); r.code != http.StatusOK {
		t.Fatal(r.code)
	}
	ctx := context.Background()
	if err := svc.Crash(ctx); err != nil {
		t.Fatal(err)
	}
	if err := svc.Crash(ctx); err != nil {
		t.Errorf("second Crash = %v, want nil", err)
	}
	if !svc.Crashed() {
		t.Error("Crashed() = false after Crash")
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Fatal("crashed service still accepts connections")
	}
	if _, err := c.Get(shop.URL(Store) + "/healthz"); err == nil {
		t.Fatal("request to crashed service succeeded")
	}
	if err := svc.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	if err := svc.Restore(ctx); err != nil {
		t.Errorf("second Restore = %v, want nil", err)
	}
	if shop.Addr(Store) != addr {
		t.Errorf("address changed: %s -> %s", addr, shop.Addr(Store))
	}
	if r := get(t, c, shop.URL(Store)+"/healthz"); r.code != http.StatusOK {
		t.Errorf("after Restore = %d", r.code)
	}
}

// TestCrashCutsRequestsInFlight checks that a crash fails a request being
// served rather than letting it finish.
func TestCrashCutsRequestsInFlight(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Store.ServiceTime = ServiceTimeConfig{Enabled: true, Distribution: DistFixed, Fixed: 10 * time.Second}
	shop := startShop(t, cfg, StartOptions{Only: []string{Store}})
	c := newClient(t)
	errc := make(chan error, 1)
	go func() {
		resp, err := c.Get(shop.URL(Store) + "/kv/product:p001")
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	eventually(t, 5*time.Second, "request in flight", func() bool {
		return metricSum(scrape(t, c, shop.URL(Store)), "faultline_http_in_flight_requests", nil) == 1
	})
	start := time.Now()
	if err := shop.Service(Store).Crash(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err == nil {
		t.Error("request in flight succeeded through a crash")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("crash took %s; it waited for the 10s service time", d)
	}
}

func TestSetUpstreamThroughProxy(t *testing.T) {
	t.Parallel()
	shop := startShop(t, testConfig(), StartOptions{Only: []string{Store, Catalog}})
	c := newClient(t)
	var seen atomic.Int64
	storeURL := shop.URL(Store)
	proxy := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		resp, err := c.Get(storeURL + r.URL.RequestURI())
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		buf := make([]byte, 1<<16)
		n, _ := resp.Body.Read(buf)
		w.Write(buf[:n])
	})
	if err := shop.SetUpstream("catalog->store", proxy.URL); err != nil {
		t.Fatal(err)
	}
	if got := shop.Upstream("catalog->store"); got != proxy.URL {
		t.Errorf("Upstream = %q, want %q", got, proxy.URL)
	}
	if r := get(t, c, shop.URL(Catalog)+"/products/p010"); r.code != http.StatusOK || seen.Load() != 1 {
		t.Errorf("read through the proxy = %d, proxy saw %d requests", r.code, seen.Load())
	}
	for _, tt := range []struct{ link, addr, want string }{
		{"gateway->catalog", "127.0.0.1:1", "gateway is not running"},
		{"catalog->nowhere", "127.0.0.1:1", "unknown link"},
		{"catalog->store", "ftp://x:1", "scheme must be http"},
		{"catalog->store", "localhost", "want host:port"},
	} {
		if err := shop.SetUpstream(tt.link, tt.addr); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("SetUpstream(%s, %s) = %v, want %q", tt.link, tt.addr, err, tt.want)
		}
	}
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Close() })
	_, port, _ := net.SplitHostPort(taken.Addr().String())
	bad := testConfig()
	bad.Store.ServiceTime.P99 = time.Microsecond
	tests := []struct {
		name string
		cfg  Config
		opts StartOptions
		want string
	}{
		{"unknown service", testConfig(), StartOptions{Only: []string{"store", "cart"}}, `unknown service "cart"`},
		{"missing upstream", testConfig(), StartOptions{Only: []string{"catalog"}}, "catalog needs store"},
		{"unknown link", testConfig(), StartOptions{Upstreams: map[string]string{"store->catalog": "127.0.0.1:1"}}, "unknown link"},
		{"bad upstream address", testConfig(), StartOptions{Upstreams: map[string]string{"catalog->store": "nohost"}}, "want host:port"},
		{"bad listen service", testConfig(), StartOptions{Listen: map[string]string{"cart": ":1"}}, `unknown service "cart"`},
		{"port taken", testConfig(), StartOptions{Only: []string{Store}, Listen: map[string]string{Store: taken.Addr().String()}}, "port " + port + " is already in use"},
		{"invalid config", bad, StartOptions{}, "targets.store.service_time.p99: must be >= median"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			shop, err := Start(context.Background(), tt.cfg, tt.opts)
			if err == nil {
				shop.Close()
				t.Fatalf("Start succeeded, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Start error = %v, want %q", err, tt.want)
			}
		})
	}
	// An upstream given by address replaces the in-process one.
	shop := startShop(t, testConfig(), StartOptions{Only: []string{Catalog}, Upstreams: map[string]string{"catalog->store": "127.0.0.1:1"}})
	if r := get(t, newClient(t), shop.URL(Catalog)+"/products/p001"); r.code != http.StatusServiceUnavailable {
		t.Errorf("catalog with a dead store = %d, want 503", r.code)
	}
	var ce *ConfigError
	if _, err := Start(context.Background(), bad, StartOptions{}); !errors.As(err, &ce) {
		t.Errorf("invalid config error %T, want *ConfigError", err)
	}
}

func TestShopCloseStopsEverything(t *testing.T) {
	t.Parallel()
	shop, err := Start(context.Background(), testConfig(), StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	addr := shop.Addr(Gateway)
	if len(shop.Table()) != 4 || shop.Names()[0] != Store || shop.Names()[3] != Gateway {
		t.Errorf("table %v", shop.Table())
	}
	if err := shop.Close(); err != nil {
		t.Fatal(err)
	}
	if err := shop.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Error("gateway still listening after Close")
	}
	if err := shop.Service(Store).Restore(context.Background()); err == nil {
		t.Error("Restore after Close succeeded")
	}
	if shop.Addr("cart") != "" || shop.URL("cart") != "" || shop.Service("cart") != nil {
		t.Error("unknown service has an address")
	}
}

func TestGatewayForwarding(t *testing.T) {
	t.Parallel()
	type seen struct{ method, uri, id, fwd string }
	got := make(chan seen, 10)
	srv := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Method, r.URL.RequestURI(), r.Header.Get(RequestIDHeader), r.Header.Get("X-Forwarded-For")}
		w.Header().Set("X-Upstream-Header", "kept")
		w.Write([]byte(`{"ok":true}`))
	})
	shop := gatewayAlone(t, testConfig(), srv)
	c := newClient(t)
	r := do(t, c, http.MethodGet, shop.URL(Gateway)+"/api/products/p1?x=1", "", map[string]string{RequestIDHeader: "abc"})
	s := <-got
	if s.uri != "/products/p1?x=1" || s.id != "abc" || s.fwd != "127.0.0.1" {
		t.Errorf("upstream saw %+v", s)
	}
	if r.header.Get(RequestIDHeader) != "abc" || r.header.Get("X-Upstream-Header") != "kept" || r.body != `{"ok":true}` {
		t.Errorf("client got %v %q", r.header, r.body)
	}
	// Without an ID the gateway makes one and passes it on.
	r = get(t, c, shop.URL(Gateway)+"/api/orders")
	s = <-got
	if s.uri != "/orders" || s.id == "" || r.header.Get(RequestIDHeader) != s.id {
		t.Errorf("generated request ID: upstream %q, client %q", s.id, r.header.Get(RequestIDHeader))
	}
	// Methods outside HTTP's set are counted as OTHER, keeping the
	// metric's cardinality bounded.
	do(t, c, "BREW", shop.URL(Gateway)+"/api/orders", "", nil)
	<-got
	fams := scrape(t, c, shop.URL(Gateway))
	if n := metricSum(fams, "faultline_http_requests_total", map[string]string{"method": "OTHER", "route": "/api/orders"}); n != 1 {
		t.Errorf("BREW counted %v times as OTHER, want 1", n)
	}
}
