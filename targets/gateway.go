package targets

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Headers the gateway adds to its answers.
const (
	// UpstreamHeader names the service that answered.
	UpstreamHeader = "X-Faultline-Upstream"
	// AttemptsHeader counts the calls made to the upstream.
	AttemptsHeader = "X-Faultline-Attempts"
	// ReasonHeader says why the gateway answered on its own: rate_limited,
	// breaker_open, bulkhead_full, upstream_error or upstream_timeout.
	ReasonHeader = "X-Faultline-Reason"
)

// gateway is the API gateway: /api/products... goes to catalog and
// /api/orders... to orders, through a per-client rate limiter and, per
// upstream, a circuit breaker, a bulkhead, a timeout per attempt and
// retries with exponential backoff and full jitter for idempotent requests.
type gateway struct {
	cfg     GatewayConfig
	log     *slog.Logger
	rnd     *lockedRand
	limiter *rateLimiter // nil when off
	catalog *gatewayUpstream
	orders  *gatewayUpstream

	rateLimited      prometheus.Counter
	calls            *prometheus.CounterVec
	retries          *prometheus.CounterVec
	transitions      *prometheus.CounterVec
	bulkheadRejected *prometheus.CounterVec
}

var _ app = (*gateway)(nil)

// gatewayUpstream is one upstream with its own breaker and bulkhead.
type gatewayUpstream struct {
	name     string
	up       *upstream
	breaker  *breaker  // nil when off
	bulkhead *bulkhead // nil when off
}

func newGateway(cfg GatewayConfig, catalog, orders *upstream, seed int64, log *slog.Logger, m *metrics) *gateway {
	g := &gateway{cfg: cfg, log: log, rnd: newLockedRand(seed, 3)}
	g.rateLimited = m.counter("faultline_gateway_rate_limited_total", "Requests answered 429 by the rate limiter.")
	g.calls = m.counterVec("faultline_gateway_upstream_requests_total",
		"Attempts to call an upstream, by outcome (ok, error_status, error, timeout, breaker_open, bulkhead_full).", "upstream", "outcome")
	g.retries = m.counterVec("faultline_gateway_retries_total", "Retries of a call to an upstream.", "upstream")
	g.transitions = m.counterVec("faultline_gateway_breaker_transitions_total", "Circuit breaker state changes, by the state entered.", "upstream", "to")
	g.bulkheadRejected = m.counterVec("faultline_gateway_bulkhead_rejected_total", "Calls refused because the upstream's bulkhead was full.", "upstream")
	if cfg.RateLimit.Enabled {
		g.limiter = newRateLimiter(cfg.RateLimit)
	}
	g.catalog = g.newUpstream("catalog", catalog, m)
	g.orders = g.newUpstream("orders", orders, m)
	return g
}

func (g *gateway) newUpstream(name string, up *upstream, m *metrics) *gatewayUpstream {
	gu := &gatewayUpstream{name: name, up: up}
	if g.cfg.Breaker.Enabled {
		gu.breaker = newBreaker(g.cfg.Breaker, func(from, to BreakerState) {
			g.transitions.WithLabelValues(name, to.String()).Inc()
			g.log.Info("circuit breaker", "upstream", name, "from", from.String(), "to", to.String())
		})
		m.wrapped.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "faultline_gateway_breaker_state",
			Help:        "Circuit breaker state per upstream: 0 closed, 1 open, 2 half-open.",
			ConstLabels: prometheus.Labels{"upstream": name},
		}, func() float64 { return float64(gu.breaker.State()) }))
	}
	if g.cfg.Bulkhead.Enabled {
		gu.bulkhead = newBulkhead(g.cfg.Bulkhead.MaxConcurrent)
		m.wrapped.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "faultline_gateway_bulkhead_in_use",
			Help:        "Calls in flight per upstream, bounded by the bulkhead.",
			ConstLabels: prometheus.Labels{"upstream": name},
		}, func() float64 { return float64(gu.bulkhead.InUse()) }))
	}
	return gu
}

func (g *gateway) routes(r *router) {
	r.handle("/api/products", "/api/products", g.proxy(g.catalog))
	r.handle("/api/products/{id}", "/api/products/{id}", g.proxy(g.catalog))
	r.handle("/api/orders", "/api/orders", g.proxy(g.orders))
	r.handle("/api/orders/{id}", "/api/orders/{id}", g.proxy(g.orders))
}

func (g *gateway) ready() error { return nil }

func (g *gateway) close() {
	g.catalog.up.close()
	g.orders.up.close()
}

// hopHeaders are not forwarded in either direction.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length"}

// upstreamAnswer is what one attempt came to.
type upstreamAnswer struct {
	code   int
	header http.Header
	body   []byte
}

// errors that end the attempts without retry.
var errBulkheadFull = errors.New("bulkhead full")

// retryableStatus is an upstream answer worth another attempt.
func retryableStatus(code int) bool {
	return code == http.StatusBadGateway || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout
}

// idempotent says whether a request may be sent twice without harm.
func idempotent(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return true
	case http.MethodPost, http.MethodPatch:
		return r.Header.Get(IdempotencyKeyHeader) != ""
	}
	return false
}

func (g *gateway) clientKey(r *http.Request) string {
	if h := g.cfg.RateLimit.KeyHeader; h != "" {
		if k := r.Header.Get(h); k != "" {
			return "key:" + k
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "ip:" + host
}

func (g *gateway) proxy(gu *gatewayUpstream) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(UpstreamHeader, gu.name)
		if g.limiter != nil {
			if ok, wait := g.limiter.Allow(g.clientKey(r), time.Now()); !ok {
				g.rateLimited.Inc()
				w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
				w.Header().Set(ReasonHeader, "rate_limited")
				writeError(w, http.StatusTooManyRequests, "rate limit exceeded")
				return
			}
		}
		body, err := readBody(r)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		path := strings.TrimPrefix(r.URL.EscapedPath(), "/api")
		if r.URL.RawQuery != "" {
			path += "?" + r.URL.RawQuery
		}
		maxAttempts := 1
		if g.cfg.Retry.Enabled && idempotent(r) {
			maxAttempts = g.cfg.Retry.MaxAttempts
		}
		b := backoff{Base: g.cfg.Retry.BaseDelay, Max: g.cfg.Retry.MaxDelay, Multiplier: g.cfg.Retry.Multiplier, NoJitter: g.cfg.Retry.NoJitter}
		var answer *upstreamAnswer
		var retryAfter time.Duration
		attempts := 0
		err = retryLoop(r.Context(), maxAttempts, b, g.rnd.Float64, func(n int) (bool, error) {
			attempts = n + 1
			if n > 0 {
				g.retries.WithLabelValues(gu.name).Inc()
			}
			a, ra, err := g.attempt(r, gu, path, body)
			retryAfter = ra
			if err != nil {
				answer = nil
				retry := !errors.Is(err, errBreakerOpen) && !errors.Is(err, errBulkheadFull)
				return retry, err
			}
			answer = a
			if retryableStatus(a.code) {
				return true, errRetryableStatus
			}
			return false, nil
		})
		w.Header().Set(AttemptsHeader, strconv.Itoa(attempts))
		if r.Context().Err() != nil {
			return // the client is gone
		}
		if answer != nil {
			for k, vs := range answer.header {
				w.Header()[k] = vs
			}
			w.Header().Set(RequestIDHeader, r.Header.Get(RequestIDHeader))
			w.Header().Set("Content-Length", strconv.Itoa(len(answer.body)))
			w.WriteHeader(answer.code)
			w.Write(answer.body)
			return
		}
		switch {
		case errors.Is(err, errBreakerOpen):
			if retryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(retryAfter)))
			}
			w.Header().Set(ReasonHeader, "breaker_open")
			writeError(w, http.StatusServiceUnavailable, gu.name+": circuit breaker open")
		case errors.Is(err, errBulkheadFull):
			w.Header().Set(ReasonHeader, "bulkhead_full")
			writeError(w, http.StatusServiceUnavailable, gu.name+": too many calls in flight")
		case errors.Is(err, context.DeadlineExceeded):
			w.Header().Set(ReasonHeader, "upstream_timeout")
			writeError(w, http.StatusGatewayTimeout, gu.name+": timed out")
		default:
			w.Header().Set(ReasonHeader, "upstream_error")
			writeError(w, http.StatusBadGateway, gu.name+": "+errText(err))
		}
	}
}

// errRetryableStatus marks an answer with a retryable status code.
var errRetryableStatus = errors.New("retryable status")

func errText(err error) string {
	if err == nil {
		return "no answer"
	}
	return err.Error()
}

// attempt makes one call through the breaker, the bulkhead and the timeout.
// The error is errBreakerOpen (with the wait until half-open),
// errBulkheadFull, or the transport's error.
func (g *gateway) attempt(r *http.Request, gu *gatewayUpstream, path string, body []byte) (*upstreamAnswer, time.Duration, error) {
	report := func(outcome) {}
	if gu.breaker != nil {
		done, wait, err := gu.breaker.Allow()
		if err != nil {
			g.calls.WithLabelValues(gu.name, "breaker_open").Inc()
			return nil, wait, err
		}
		report = done
	}
	if gu.bulkhead != nil {
		if !gu.bulkhead.TryAcquire() {
			report(outcomeIgnored)
			g.calls.WithLabelValues(gu.name, "bulkhead_full").Inc()
			g.bulkheadRejected.WithLabelValues(gu.name).Inc()
			return nil, 0, errBulkheadFull
		}
		defer gu.bulkhead.Release()
	}
	ctx := r.Context()
	if g.cfg.Timeout.Enabled {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, g.cfg.Timeout.Duration)
		defer cancel()
	}
	a, err := g.send(ctx, r, gu, path, body)
	switch {
	case r.Context().Err() != nil:
		report(outcomeIgnored)
	case err != nil:
		report(outcomeFailure)
		if ctx.Err() != nil {
			g.calls.WithLabelValues(gu.name, "timeout").Inc()
			return nil, 0, context.DeadlineExceeded
		}
		g.calls.WithLabelValues(gu.name, "error").Inc()
	case a.code >= 500:
		report(outcomeFailure)
		g.calls.WithLabelValues(gu.name, "error_status").Inc()
	default:
		report(outcomeSuccess)
		g.calls.WithLabelValues(gu.name, "ok").Inc()
	}
	return a, 0, err
}

// send forwards the request and reads the whole answer.
func (g *gateway) send(ctx context.Context, r *http.Request, gu *gatewayUpstream, path string, body []byte) (*upstreamAnswer, error) {
	var rd io.Reader
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, gu.up.url(path), rd)
	if err != nil {
		return nil, err
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	for _, h := range hopHeaders {
		req.Header.Del(h)
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior := r.Header.Get("X-Forwarded-For"); prior != "" {
			host = prior + ", " + host
		}
		req.Header.Set("X-Forwarded-For", host)
	}
	resp, err := gu.up.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, err
	}
	h := resp.Header.Clone()
	for _, name := range hopHeaders {
		h.Del(name)
	}
	return &upstreamAnswer{code: resp.StatusCode, header: h, body: b}, nil
}
