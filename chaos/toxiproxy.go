package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	toxiserver "github.com/Shopify/toxiproxy/v2"
	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	zerologlog "github.com/rs/zerolog/log"
)

// Some toxics (bandwidth) log through zerolog's global logger, at trace
// level, to stderr; silence it before any toxic runs so that faultline's
// output stays its own.
func init() { zerologlog.Logger = zerolog.Nop() }

// Toxiproxy is a Toxiproxy server running inside this process: the default
// for network faults, and what `faultline chaos toxiproxy serve` runs. Its
// API is served from faultline's own http.Server (Toxiproxy's own Listen
// calls logger.Fatal on a bind error), and every call to it goes through the
// official client, the same path as an external server.
type Toxiproxy struct {
	api    *toxiserver.ApiServer
	srv    *http.Server
	ln     net.Listener
	url    string
	label  string
	served chan struct{}

	closeOnce sync.Once
	closeErr  error
}

type toxiproxyConfig struct {
	listen string
	log    io.Writer
}

// ToxiproxyOption configures StartToxiproxy.
type ToxiproxyOption func(*toxiproxyConfig)

// DefaultToxiproxyListen is where the embedded server's API listens unless
// told otherwise: loopback, on a port the OS picks.
const DefaultToxiproxyListen = "127.0.0.1:0"

// WithListen sets the address the API listens on.
func WithListen(addr string) ToxiproxyOption { return func(c *toxiproxyConfig) { c.listen = addr } }

// WithLog makes the server log its events (proxies and toxics created and
// removed, connections) as JSON lines to w.
func WithLog(w io.Writer) ToxiproxyOption { return func(c *toxiproxyConfig) { c.log = w } }

// toxiproxyInstances numbers the embedded servers, to label their goroutines.
var toxiproxyInstances atomic.Int64

// goroutineLabel is the pprof label key carried by every goroutine an
// embedded server starts, directly or not, so Close can wait for them all.
const goroutineLabel = "faultline_toxiproxy"

// StartToxiproxy starts an embedded Toxiproxy server. ctx bounds the start
// only; the server runs until Close.
func StartToxiproxy(ctx context.Context, opts ...ToxiproxyOption) (*Toxiproxy, error) {
	cfg := toxiproxyConfig{listen: DefaultToxiproxyListen}
	for _, o := range opts {
		o(&cfg)
	}
	logger := zerolog.Nop()
	if cfg.log != nil {
		logger = zerolog.New(cfg.log).With().Timestamp().Logger().Level(zerolog.InfoLevel)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.listen)
	if err != nil {
		return nil, fmt.Errorf("start toxiproxy: %w", err)
	}
	api := toxiserver.NewServer(toxiserver.NewMetricsContainer(prometheus.NewRegistry()), logger)
	t := &Toxiproxy{
		api:    api,
		ln:     ln,
		url:    "http://" + clientAddr(ln.Addr()),
		label:  strconv.FormatInt(toxiproxyInstances.Add(1), 10),
		served: make(chan struct{}),
		srv: &http.Server{
			Handler:           toxiproxyHandler(api),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      30 * time.Second,
		},
	}
	go func() {
		defer close(t.served)
		// Goroutines inherit labels from the goroutine that starts them, so
		// every connection, handler, proxy and link goroutine of this server
		// carries the label.
		pprof.Do(context.Background(), pprof.Labels(goroutineLabel, t.label), func(context.Context) {
			t.srv.Serve(ln)
		})
	}()
	return t, nil
}

// clientAddr is the address a client dials to reach a listener: a wildcard
// listen address is reached on loopback.
func clientAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	// A wildcard listener (0.0.0.0, or [::], which Go makes dual-stack)
	// accepts IPv4 loopback connections.
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// toxiproxyHandler routes the Toxiproxy API as v2.5.0's Listen does.
func toxiproxyHandler(api *toxiserver.ApiServer) http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/reset", api.ResetState).Methods("POST")
	r.HandleFunc("/proxies", api.ProxyIndex).Methods("GET")
	r.HandleFunc("/proxies", api.ProxyCreate).Methods("POST")
	r.HandleFunc("/populate", api.Populate).Methods("POST")
	r.HandleFunc("/proxies/{proxy}", api.ProxyShow).Methods("GET")
	r.HandleFunc("/proxies/{proxy}", api.ProxyUpdate).Methods("POST")
	r.HandleFunc("/proxies/{proxy}", api.ProxyDelete).Methods("DELETE")
	r.HandleFunc("/proxies/{proxy}/toxics", api.ToxicIndex).Methods("GET")
	r.HandleFunc("/proxies/{proxy}/toxics", api.ToxicCreate).Methods("POST")
	r.HandleFunc("/proxies/{proxy}/toxics/{toxic}", api.ToxicShow).Methods("GET")
	r.HandleFunc("/proxies/{proxy}/toxics/{toxic}", api.ToxicUpdate).Methods("POST")
	r.HandleFunc("/proxies/{proxy}/toxics/{toxic}", api.ToxicDelete).Methods("DELETE")
	r.HandleFunc("/version", api.Version).Methods("GET")
	return refuseBrowsers(http.TimeoutHandler(withContentLength(r), 25*time.Second, ""))
}

// refuseBrowsers turns away browsers, as Toxiproxy's own server does, so a
// web page cannot drive the API of a server on loopback.
func refuseBrowsers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.UserAgent(), "Mozilla/") {
			http.Error(w, "User agent not allowed", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// withContentLength buffers each response and sets its Content-Length. The
// official client does not close response bodies; with a length, the HTTP
// transport sees the end of the body as it reads it and recycles the
// connection instead of leaving it, and its goroutines, waiting.
func withContentLength(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := &bufferedResponse{header: w.Header(), code: http.StatusOK}
		next.ServeHTTP(buf, r)
		w.Header().Set("Content-Length", strconv.Itoa(buf.body.Len()))
		w.WriteHeader(buf.code)
		w.Write(buf.body.Bytes())
	})
}

type bufferedResponse struct {
	header http.Header
	code   int
	wrote  bool
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) WriteHeader(code int) {
	if !b.wrote {
		b.code, b.wrote = code, true
	}
}
func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.wrote = true
	return b.body.Write(p)
}

// URL is the server's API address, such as http://127.0.0.1:41234.
func (t *Toxiproxy) URL() string { return t.url }

// Client returns an official Toxiproxy client for the server.
func (t *Toxiproxy) Client() *toxiproxy.Client { return toxiproxy.NewClient(t.url) }

// Done is closed when the server stops serving.
func (t *Toxiproxy) Done() <-chan struct{} { return t.served }

// closeWait bounds how long Close waits for the server's goroutines.
const closeWait = 5 * time.Second

// Close stops the API, closes every proxy and its connections, and waits
// for the server's goroutines to end. It is safe to call more than once.
func (t *Toxiproxy) Close() error {
	t.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeWait)
		defer cancel()
		// Stop the API first, so no request creates a proxy after the
		// proxies are cleared.
		if err := t.srv.Shutdown(ctx); err != nil {
			t.srv.Close()
		}
		<-t.served
		// Remove the toxics before closing the connections: a toxic holding
		// data (latency, bandwidth, slicer) does not notice its connection
		// closing, and would keep its goroutines until its delay ran out;
		// removing it interrupts it while the connection can still take
		// the data.
		for _, p := range t.api.Collection.Proxies() {
			p.Toxics.ResetToxics(ctx)
		}
		t.api.Collection.Clear()
		t.closeErr = waitLabelled(ctx, goroutineLabel, t.label)
	})
	return t.closeErr
}

// waitLabelled waits until no goroutine carries the pprof label key=value.
func waitLabelled(ctx context.Context, key, value string) error {
	needle := fmt.Sprintf("%q:%q", key, value)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		n := countLabelled(needle)
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("toxiproxy: %d goroutine(s) still running after close", n)
		case <-tick.C:
		}
	}
}

// countLabelled counts the goroutines whose labels contain needle, from the
// goroutine profile (debug=1 prints each stack's count and labels).
func countLabelled(needle string) int {
	var buf bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&buf, 1)
	total := 0
	count := 0
	for line := range strings.Lines(buf.String()) {
		switch {
		case len(line) > 0 && line[0] >= '1' && line[0] <= '9':
			// "N @ 0x..." starts a stack shared by N goroutines.
			n, _, _ := strings.Cut(line, " ")
			count, _ = strconv.Atoi(n)
		case strings.HasPrefix(line, "# labels: ") && strings.Contains(line, needle):
			total += count
		}
	}
	return total
}

// toxiproxyTimeout bounds the reachability check made before using a
// server; the official client itself has no timeout.
const toxiproxyTimeout = 5 * time.Second

// ConnectToxiproxy checks that a Toxiproxy API answers at url and returns
// the official client for it. The error names the URL.
func ConnectToxiproxy(ctx context.Context, url string) (*toxiproxy.Client, error) {
	if url == "" {
		return nil, errors.New("no toxiproxy server: give --toxiproxy-url, or use the embedded one")
	}
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		url = "http://" + url
	}
	ctx, cancel := context.WithTimeout(ctx, toxiproxyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(url, "/")+"/version", nil)
	if err != nil {
		return nil, fmt.Errorf("toxiproxy at %s: %w", url, err)
	}
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("toxiproxy unreachable at %s: %w", url, unwrapURLError(err))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("toxiproxy at %s: GET /version answered %s", url, resp.Status)
	}
	return toxiproxy.NewClient(strings.TrimSuffix(url, "/")), nil
}

// unwrapURLError drops the *url.Error wrapper, whose message repeats the URL.
func unwrapURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && strings.HasPrefix(err.Error(), "Get ") {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// isToxiproxyNotFound reports whether err is the official client's error for
// an HTTP 404: the proxy or toxic does not exist.
func isToxiproxyNotFound(err error) bool {
	return err != nil && strings.Contains(err.Error(), "HTTP 404")
}

// CreateProxy creates the proxy name on the Toxiproxy server at url,
// listening on listen and forwarding to upstream. It is not a fault: the
// ledger does not record it (see NewProxy for one that is).
func CreateProxy(ctx context.Context, url, name, listen, upstream string) (*toxiproxy.Proxy, error) {
	if !proxyName.MatchString(name) {
		return nil, fmt.Errorf("proxy name %q: use letters, digits, '.', '_' and '-'", name)
	}
	c, err := ConnectToxiproxy(ctx, url)
	if err != nil {
		return nil, err
	}
	p, err := c.CreateProxy(name, listen, upstream)
	if err != nil {
		return nil, fmt.Errorf("create proxy %s at %s: %w", name, url, err)
	}
	return p, nil
}

// DeleteProxy deletes the proxy name on the Toxiproxy server at url,
// closing its connections.
func DeleteProxy(ctx context.Context, url, name string) error {
	if !proxyName.MatchString(name) {
		return fmt.Errorf("proxy name %q: use letters, digits, '.', '_' and '-'", name)
	}
	c, err := ConnectToxiproxy(ctx, url)
	if err != nil {
		return err
	}
	p := c.NewProxy()
	p.Name = name
	if err := p.Delete(); err != nil {
		return fmt.Errorf("delete proxy %s at %s: %w", name, url, err)
	}
	return nil
}
