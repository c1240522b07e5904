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
	"strings"
	"sync"
	"time"

	remote "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/prompb"

	"github.com/faultline-dev/faultline/loadgen"
)

// PushTimeout bounds one remote-write push, retries included, and the
// pushes still queued at Close altogether. Pushes run on their own
// goroutine, so a slow or dead receiver costs pushes, never load.
const PushTimeout = 5 * time.Second

// QueueLength is how many intervals' snapshots wait for a slow receiver at
// most; beyond it the oldest is skipped (the figures are cumulative, so
// later snapshots still hold its requests).
const QueueLength = 60

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
	// Uncompressed: the page is a few kB, and promhttp's gzip writer
	// (compress/flate's, about 800 kB, kept in a pool between scrapes) would
	// be most of what serving costs, twice over once the garbage collector's
	// headroom is counted.
	mux.Handle("/metrics", promhttp.HandlerFor(l.registry, promhttp.HandlerOpts{DisableCompression: true}))
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
	p, err := newPusher(u.String(), l.warn)
	if err != nil {
		return err
	}
	l.pusher = p
	return nil
}

// Interval adds one interval (see Metrics.Interval) and, with remote
// write, queues a snapshot of the figures stamped with the interval's end:
// a snapshot taken now, so that the sample at each interval's end holds
// that interval and the ones before it, however late it is pushed.
func (l *Live) Interval(iv *loadgen.Stats, phase string, faults []string) {
	l.Metrics.Interval(iv, phase, faults)
	if l.pusher == nil {
		return
	}
	families, err := l.registry.Gather()
	if err != nil {
		return // cannot happen: one collector, consistent by construction
	}
	l.pusher.offer(families, iv.End)
}

// Close pushes what is still queued (bounded by PushTimeout altogether),
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

// pusher sends queued snapshots on its own goroutine: offer never waits,
// and when the queue is full the oldest snapshot gives way.
type pusher struct {
	api     *remote.API
	url     string
	labels  map[string]string
	warn    io.Writer
	timeout time.Duration // per push, and for the queue at close: PushTimeout

	queue   chan *prompb.WriteRequest
	ctx     context.Context // cancelled when close has waited long enough
	cancel  context.CancelFunc
	stopped chan struct{}
	lastTS  int64 // the feeding goroutine's

	mu                        sync.Mutex
	pushes, failures, skipped int
	lastErr                   error
	lastWarn                  time.Time
}

func newPusher(rawURL string, warn io.Writer) (*pusher, error) {
	api, err := remote.NewAPI(rawURL,
		remote.WithAPIPath(""),                   // the URL names the whole endpoint
		remote.WithAPIHTTPClient(&http.Client{}), // each push's context bounds it
		remote.WithAPIBackoff(remote.BackoffConfig{Min: 100 * time.Millisecond, Max: time.Second, MaxRetries: 1}),
	)
	if err != nil {
		return nil, err
	}
	p := &pusher{api: api, url: rawURL, warn: warn, labels: map[string]string{"job": "faultline"}, timeout: PushTimeout,
		queue: make(chan *prompb.WriteRequest, QueueLength), stopped: make(chan struct{})}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if host, err := os.Hostname(); err == nil {
		p.labels["instance"] = host
	}
	go p.loop()
	return p, nil
}

// offer queues the figures as of t. Only the one feeding goroutine calls
// it, never after close.
func (p *pusher) offer(families []*dto.MetricFamily, t time.Time) {
	ts := t.UnixMilli()
	if ts <= p.lastTS {
		ts = p.lastTS + 1 // remote write wants each series' samples in time order
	}
	p.lastTS = ts
	req := writeRequest(families, ts, p.labels)
	for {
		select {
		case p.queue <- req:
			return
		default:
		}
		select {
		case <-p.queue:
			p.mu.Lock()
			p.skipped++
			p.mu.Unlock()
		default:
		}
	}
}

func (p *pusher) loop() {
	defer close(p.stopped)
	for req := range p.queue {
		p.push(req)
	}
}

// push sends req; a failure is counted and, at most once a minute, warned
// about.
func (p *pusher) push(req *prompb.WriteRequest) {
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	defer cancel()
	_, err := p.api.Write(ctx, remote.WriteV1MessageType, req)
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

// close pushes what is queued, giving up on the rest after the timeout,
// and reports failed and skipped pushes ("" when there were none).
func (p *pusher) close() string {
	close(p.queue)
	giveUp := time.AfterFunc(p.timeout, p.cancel)
	<-p.stopped
	giveUp.Stop()
	p.cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	var parts []string
	if p.failures > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d pushes failed (last: %v)", p.failures, p.pushes, p.lastErr))
	}
	if p.skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d intervals skipped while the receiver was slow", p.skipped))
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("remote write to %s: %s", p.url, strings.Join(parts, "; "))
}
