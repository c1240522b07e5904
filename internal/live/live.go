package live

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	remote "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/faultline-dev/faultline/loadgen"
)

// PushTimeout bounds one remote-write push, retries included. Pushes run
// on their own goroutine, so a slow or dead receiver costs pushes, never
// load.
const PushTimeout = 5 * time.Second

// WarnEvery is how often at most a failing remote write is warned about.
const WarnEvery = time.Minute

// Live serves and pushes one Metrics. Build it with New, then Serve and/or
// RemoteWrite; feed it with Interval; Close stops both.
type Live struct {
	Metrics  *Metrics
	registry *prometheus.Registry
	warn     io.Writer

	server   *http.Server
	listener net.Listener
	served   chan struct{}

	pusher *pusher
}

// New returns a Live with empty figures; warn receives the warnings of a
// failing remote write (at most one a minute).
func New(warn io.Writer) *Live {
	if warn == nil {
		warn = io.Discard
	}
	m := NewMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	return &Live{Metrics: m, registry: reg, warn: warn}
}

// Serve listens on addr (host:port) and serves the figures at /metrics in
// the Prometheus exposition formats (text, and protobuf for native
// histograms when the scraper asks for it). The listener is open when Serve
// returns: a port in use is its error, before anything is sent.
func (l *Live) Serve(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(l.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "faultline: live metrics at /metrics")
	})
	l.listener = ln
	l.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	l.served = make(chan struct{})
	go func() {
		defer close(l.served)
		_ = l.server.Serve(ln) // ends with ErrServerClosed at Close
	}()
	return nil
}

// Addr is the address Serve listens on ("" when not serving).
func (l *Live) Addr() string {
	if l.listener == nil {
		return ""
	}
	return l.listener.Addr().String()
}

// RemoteWrite pushes the figures to rawURL (a remote-write 1.0 receiver,
// e.g. http://prometheus:9090/api/v1/write) after every interval, each
// sample stamped with the interval's end and labelled job="faultline" and
// instance=the host's name.
func (l *Live) RemoteWrite(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an http:// or https:// URL")
	}
	p, err := newPusher(l.registry, u.String(), l.warn)
	if err != nil {
		return err
	}
	l.pusher = p
	return nil
}

// Interval adds one interval (see Metrics.Interval) and has it pushed.
func (l *Live) Interval(iv *loadgen.Stats, phase string, faults []string) {
	l.Metrics.Interval(iv, phase, faults)
	if l.pusher != nil {
		l.pusher.offer(iv.End)
	}
}

// Close makes the push still waiting, if any (bounded by PushTimeout),
// stops serving, and says what the remote write did when any push failed
// ("" otherwise).
func (l *Live) Close() string {
	var report string
	if l.pusher != nil {
		report = l.pusher.close()
	}
	if l.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := l.server.Shutdown(ctx); err != nil {
			_ = l.server.Close()
		}
		<-l.served
	}
	return report
}

// pusher sends the registry's figures on its own goroutine: offer never
// waits, and while a push is under way newer offers replace older ones
// (the figures are cumulative, so the newest holds everything).
type pusher struct {
	api      *remote.API
	gatherer prometheus.Gatherer
	url      string
	labels   map[string]string
	warn     io.Writer
	timeout  time.Duration // per push: PushTimeout

	due     chan time.Time
	stop    chan struct{}
	stopped chan struct{}

	mu               sync.Mutex
	pushes, failures int
	lastErr          error
	lastWarn, lastTS time.Time
}

func newPusher(g prometheus.Gatherer, rawURL string, warn io.Writer) (*pusher, error) {
	api, err := remote.NewAPI(rawURL,
		remote.WithAPIPath(""),                   // the URL names the whole endpoint
		remote.WithAPIHTTPClient(&http.Client{}), // each push's context bounds it
		remote.WithAPIBackoff(remote.BackoffConfig{Min: 100 * time.Millisecond, Max: time.Second, MaxRetries: 1}),
	)
	if err != nil {
		return nil, err
	}
	p := &pusher{api: api, gatherer: g, url: rawURL, warn: warn, labels: map[string]string{"job": "faultline"}, timeout: PushTimeout,
		due: make(chan time.Time, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	if host, err := os.Hostname(); err == nil {
		p.labels["instance"] = host
	}
	go p.loop()
	return p, nil
}

// offer asks for a push of the figures as of t, replacing a push that is
// still waiting. Only the one feeding goroutine calls it.
func (p *pusher) offer(t time.Time) {
	select {
	case p.due <- t:
		return
	default:
	}
	select {
	case <-p.due:
	default:
	}
	select {
	case p.due <- t:
	default:
	}
}

func (p *pusher) loop() {
	defer close(p.stopped)
	for {
		select {
		case t := <-p.due:
			p.push(t)
		case <-p.stop:
			return
		}
	}
}

// push sends the figures stamped t; a failure is counted and, at most once
// a minute, warned about.
func (p *pusher) push(t time.Time) {
	p.mu.Lock()
	if !t.After(p.lastTS) {
		// Remote write wants each series' samples in time order.
		t = p.lastTS.Add(time.Millisecond)
	}
	p.lastTS = t
	p.mu.Unlock()
	err := p.send(t)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pushes++
	if err == nil {
		return
	}
	p.failures++
	p.lastErr = err
	if now := time.Now(); now.Sub(p.lastWarn) >= WarnEvery {
		p.lastWarn = now
		fmt.Fprintf(p.warn, "faultline: remote write to %s failed: %v (the load goes on; %d of %d pushes failed so far; warned at most once a minute)\n",
			p.url, err, p.failures, p.pushes)
	}
}

func (p *pusher) send(t time.Time) error {
	families, err := p.gatherer.Gather()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	_, err = p.api.Write(ctx, remote.WriteV1MessageType, writeRequest(families, t.UnixMilli(), p.labels))
	return err
}

// close stops the loop, makes the push still waiting (the last interval's,
// stamped with its end) and reports failures.
func (p *pusher) close() string {
	close(p.stop)
	<-p.stopped
	select {
	case t := <-p.due:
		p.push(t)
	default:
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failures == 0 {
		return ""
	}
	return fmt.Sprintf("remote write to %s: %d of %d pushes failed (last: %v)", p.url, p.failures, p.pushes, p.lastErr)
}
