package targets

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
)

// TestEndToEndLoad runs every service in-process with the default
// patterns, drives 10 s of mixed traffic through the gateway with the load
// engine (open model, 100 requests per second), and checks the services'
// /metrics against what the engine saw.
func TestEndToEndLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("10 s of load; skipped with -short")
	}
	t.Parallel()
	cfg := Defaults()
	cfg.Seed = 1
	shop := startShop(t, cfg, StartOptions{})
	c := newClient(t)

	const (
		duration = 10 * time.Second
		rate     = 100 // requests per second
	)
	// The engine sends fixed requests, so the mix is spelled out: every
	// product read by its own target (70% of the requests), the list (10%)
	// and orders of ten different products (20%). Targets of one route
	// share its name, so the engine counts per route as the gateway does.
	// Orders carry no Idempotency-Key: one shared by every request of a
	// target would replay the first order instead of creating new ones.
	const (
		routeProduct  = "/api/products/{id}"
		routeProducts = "/api/products"
		routeOrders   = "/api/orders"
	)
	var targets []loadgen.Target
	add := func(name, method, url string, weight int, body string) {
		t.Helper()
		tg, err := loadgen.NewTarget(method, url)
		if err != nil {
			t.Fatal(err)
		}
		tg.Name, tg.Weight = name, weight
		if body != "" {
			tg.Body = []byte(body)
			tg.Header.Set("Content-Type", "application/json")
		}
		targets = append(targets, tg)
	}
	for i := 1; i <= 100; i++ {
		add(routeProduct, http.MethodGet, shop.URL(Gateway)+"/api/products/"+ProductID(i), 7, "")
	}
	add(routeProducts, http.MethodGet, shop.URL(Gateway)+"/api/products", 100, "")
	for i := 0; i < 10; i++ {
		add(routeOrders, http.MethodPost, shop.URL(Gateway)+"/api/orders", 20,
			fmt.Sprintf(`{"items":[{"product_id":"%s","quantity":%d}]}`, ProductID(1+10*i), 1+i%3))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := loadgen.Run(ctx, loadgen.Options{
		Targets: targets, Model: loadgen.Open, Rate: rate, Duration: duration,
		Connections: 16, Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if res.Interrupted {
		t.Fatalf("the load was interrupted: %v", ctx.Err())
	}
	total := res.Total

	type key struct {
		route string
		code  int
	}
	seen := map[key]int{}
	for _, route := range []string{routeProduct, routeProducts, routeOrders} {
		if n := total.Completed(route) - total.Responses(route); n > 0 {
			t.Errorf("%d requests to %s got no response: %v", n, route, total.ErrorsByClass(route))
		}
		for code, n := range total.StatusCounts(route) {
			seen[key{route, code}] = int(n)
			if code < 200 || code > 299 {
				t.Errorf("%d requests to %s got %d", n, route, code)
			}
		}
	}
	// A shared, noisy machine may not keep up with 100/s; it must do most.
	if n := total.Completed(""); n < int64(duration.Seconds())*rate/2 {
		t.Fatalf("only %d requests completed in %s (sent %d, dropped %d, unfinished %d)", n, duration, res.Sent, total.Dropped, total.Unfinished)
	}
	t.Logf("%d requests in %s, send lag p99 %s", total.Completed(""), duration, loadgen.Percentile(total.SendLag, 99))

	gw := scrape(t, c, shop.URL(Gateway))
	for k, n := range seen {
		got := metricSum(gw, "faultline_http_requests_total", map[string]string{"route": k.route, "code": fmt.Sprint(k.code)})
		if got != float64(n) {
			t.Errorf("gateway counted %v requests to %s with %d, the engine saw %d", got, k.route, k.code, n)
		}
		if h := metricSum(gw, "faultline_http_request_duration_seconds", map[string]string{"route": k.route, "code": fmt.Sprint(k.code)}); h != float64(n) {
			t.Errorf("gateway latency histogram of %s has %v observations, want %d", k.route, h, n)
		}
	}
	for _, up := range []string{"catalog", "orders"} {
		if s := metricSum(gw, "faultline_gateway_breaker_state", map[string]string{"upstream": up}); s != 0 {
			t.Errorf("breaker of %s is %v, want closed", up, s)
		}
	}
	if n := metricSum(gw, "faultline_gateway_rate_limited_total", nil); n != 0 {
		t.Errorf("%v requests rate limited at 100/s (limit 1000/s)", n)
	}

	reads := seen[key{routeProduct, 200}] + seen[key{routeProducts, 200}]
	cat := scrape(t, c, shop.URL(Catalog))
	hits := metricSum(cat, "faultline_catalog_cache_hits_total", nil)
	misses := metricSum(cat, "faultline_catalog_cache_misses_total", nil)
	if hits+misses != float64(reads) {
		t.Errorf("cache hits %v + misses %v != %d reads", hits, misses, reads)
	}
	// 101 keys, a 10 s TTL, ~10 s of reads: at most ~2 misses per key.
	if misses > 2*101+10 || hits < float64(reads)/2 {
		t.Errorf("cache hits %v, misses %v of %d reads: the cache is not working", hits, misses, reads)
	}
	if e := metricSum(cat, "faultline_catalog_cache_entries", nil); e < 50 || e > 101 {
		t.Errorf("cache entries %v, want about 101", e)
	}

	posts := seen[key{routeOrders, 202}]
	ord := scrape(t, c, shop.URL(Orders))
	if n := metricSum(ord, "faultline_orders_created_total", nil); n != float64(posts) {
		t.Errorf("orders created %v, the engine got %d accepted", n, posts)
	}
	eventually(t, 10*time.Second, "every order stored", func() bool {
		return metricSum(scrape(t, c, shop.URL(Orders)), "faultline_orders_persisted_total", map[string]string{"outcome": "stored"}) == float64(posts)
	})
	ord = scrape(t, c, shop.URL(Orders))
	if d := metricSum(ord, "faultline_orders_queue_depth", nil); d != 0 {
		t.Errorf("queue depth %v after the drain", d)
	}
	st := scrape(t, c, shop.URL(Store))
	if k := metricSum(st, "faultline_store_keys", nil); k != float64(100+posts) {
		t.Errorf("store holds %v keys, want 100 products + %d orders", k, posts)
	}
	if n := metricSum(st, "faultline_store_service_time_seconds", nil); n < misses {
		t.Errorf("store drew %v service times for %v cache misses", n, misses)
	}
	for _, name := range Services() {
		fams := scrape(t, c, shop.URL(name))
		if n := metricSum(fams, "faultline_http_in_flight_requests", nil); n != 0 {
			t.Errorf("%s has %v requests in flight after the load, want 0", name, n)
		}
	}
}
