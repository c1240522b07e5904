package targets

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// latencyBuckets spans a cache hit (sub-millisecond) to a timed-out call.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// metrics is one service's Prometheus registry and its HTTP series. Every
// series carries the constant label service=<name>, so that the metrics of
// several services can be scraped into one place.
type metrics struct {
	reg      *prometheus.Registry
	wrapped  prometheus.Registerer
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

func newMetrics(service string) *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{reg: reg, wrapped: prometheus.WrapRegistererWith(prometheus.Labels{"service": service}, reg)}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "faultline_http_requests_total",
		Help: "HTTP requests served, by route, method and status code.",
	}, []string{"route", "method", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "faultline_http_request_duration_seconds",
		Help:    "Time to serve an HTTP request, by route and status code.",
		Buckets: latencyBuckets,
	}, []string{"route", "code"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "faultline_http_in_flight_requests",
		Help: "HTTP requests being served.",
	})
	m.wrapped.MustRegister(m.requests, m.duration, m.inFlight)
	return m
}

// counter registers and returns a counter.
func (m *metrics) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	m.wrapped.MustRegister(c)
	return c
}

// counterVec registers and returns a counter with labels.
func (m *metrics) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	m.wrapped.MustRegister(c)
	return c
}

// gaugeFunc registers a gauge read from f at scrape time.
func (m *metrics) gaugeFunc(name, help string, f func() float64) {
	m.wrapped.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// gaugeVec registers and returns a gauge with labels.
func (m *metrics) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	m.wrapped.MustRegister(g)
	return g
}

// handler serves the registry in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// instrument wraps h so that each request is counted under route.
func (m *metrics) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		m.inFlight.Inc()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			m.inFlight.Dec()
			code := sw.code
			if code == 0 {
				code = http.StatusOK
			}
			c := strconv.Itoa(code)
			m.requests.WithLabelValues(route, methodLabel(r.Method), c).Inc()
			m.duration.WithLabelValues(route, c).Observe(time.Since(start).Seconds())
		}()
		h.ServeHTTP(sw, r)
	})
}

// methodLabel keeps the method label bounded: a client may send any
// token as a method.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// statusWriter remembers the status code a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
