package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"

	"github.com/faultline-dev/faultline/chaos/httpfault"
)

// This file holds what the HTTP fault kinds (http_abort, http_delay)
// share. Toxiproxy acts on connections; these act on requests. For the
// fault's duration the Toxiproxy proxy's upstream is pointed at an HTTP
// proxy running in this process (package httpfault), which forwards every
// request to the real upstream and applies the faults' rules per request;
// revert points the upstream back. Toxiproxy closes the proxy's
// connections when its upstream changes, so clients reconnect, through the
// HTTP proxy at the start and around it at the end. Several HTTP faults
// on one proxy share one HTTP proxy, whose upstream is the real one.

// httpAction is the fields of one HTTP fault kind beyond the match: an
// HTTP kind is its action struct and a registerHTTPFault line.
type httpAction interface {
	validate() []error
	// configure sets what the rule does to the requests it touches.
	configure(r *httpRuleDef)
}

// httpMatch selects the requests an HTTP fault touches.
type httpMatch struct {
	Method  string            `yaml:"method,omitempty" doc:"the request method to match, such as POST; empty: any method"`
	Path    string            `yaml:"path,omitempty" doc:"the path pattern to match, such as /api/orders/{id} ({name} is one whole segment, a last {name...} the rest of the path); empty: any path"`
	Headers map[string]string `yaml:"headers,omitempty" flag:"header" doc:"request headers the request must carry, NAME: VALUE (an empty VALUE: present, any value)"`
	Percent *float64          `yaml:"percent,omitempty" default:"100" doc:"the share of the matching requests the fault touches, in percent (more than 0, at most 100), drawn for each request on its own"`
	Seed    *uint64           `yaml:"seed,omitempty" doc:"this fault's seed for the per-request draws, overriding the run's: the same seed touches the same requests of the same sequence"`
}

func (m httpMatch) validate() []error {
	var errs []error
	if _, err := httpfault.ParsePattern(m.Path); err != nil {
		errs = append(errs, &FieldError{Field: "path", Err: err})
	}
	if m.Method != "" && !validToken(m.Method) {
		errs = append(errs, fieldErrorf("method", "method %q: want a request method, such as GET or POST", m.Method))
	}
	for name := range m.Headers {
		if !validToken(name) {
			errs = append(errs, fieldErrorf("headers", "header name %q: want a header name, such as X-Request-Id", name))
		}
	}
	if p := m.Percent; p != nil && (*p <= 0 || *p > 100) {
		errs = append(errs, fieldErrorf("percent", "percent %v: want a share of the matching requests above 0 and at most 100, such as 10", *p))
	}
	return errs
}

// validToken reports whether s is an HTTP token (a method or header name).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || containsRune("()<>@,;:\\\"/[]?={}", r) {
			return false
		}
	}
	return true
}

func containsRune(s string, r rune) bool {
	for _, c := range s {
		if c == r {
			return true
		}
	}
	return false
}

func (m httpMatch) percent() float64 {
	if m.Percent == nil {
		return 100
	}
	return *m.Percent
}

// registerHTTPFault registers an HTTP fault kind.
func registerHTTPFault[A httpAction](name, summary string) {
	registerKind(kind{
		name:         name,
		group:        GroupToxiproxy,
		summary:      summary,
		inProcess:    true,
		newFault:     func() Fault { return &httpFault[A]{kind: name} },
		newInjection: func() Injection { return new(httpInjection) },
	})
}

// httpFault applies a rule to the requests crossing a proxy.
type httpFault[A httpAction] struct {
	kind   string
	Target proxyFields `yaml:",inline"`
	Match  httpMatch   `yaml:",inline"`
	Action A           `yaml:",inline"`
}

func (f *httpFault[A]) Kind() string { return f.kind }

func (f *httpFault[A]) Validate() []error {
	errs := append(f.Target.validate(), f.Match.validate()...)
	return append(errs, f.Action.validate()...)
}

// rule is the fault's rule, with the seed it draws from.
func (f *httpFault[A]) rule(seed uint64) httpRuleDef {
	r := httpRuleDef{Kind: f.kind, Method: f.Match.Method, Path: f.Match.Path, Headers: f.Match.Headers, Percent: f.Match.percent(), Seed: seed}
	if f.Match.Seed != nil {
		r.Seed = *f.Match.Seed
	}
	f.Action.configure(&r)
	return r
}

func (f *httpFault[A]) Describe() string {
	r := f.rule(0)
	return fmt.Sprintf("%s %s on proxy %s", f.kind, r.build().String(), f.Target.Proxy)
}

func (f *httpFault[A]) Resolve(ctx context.Context, env *Env) (Injection, error) {
	server, target, err := resolveProxy(ctx, env, f.Target)
	if err != nil {
		return nil, err
	}
	if err := onThisMachine(server.URL); err != nil {
		return nil, err
	}
	// While another HTTP fault of this process holds the proxy, its
	// upstream is that fault's HTTP proxy: the real one is behind it.
	if live := liveHTTPProxy(server.URL, target.Name); live != nil {
		target.Upstream = live.Upstream()
	}
	return &httpInjection{Server: server, Proxy: target, Rule: f.rule(env.Seed)}, nil
}

// onThisMachine checks that a Toxiproxy server can reach the HTTP proxy,
// which listens on this machine's loopback.
func onThisMachine(apiURL string) error {
	u, err := url.Parse(apiURL)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	return fmt.Errorf("HTTP faults put a proxy on this machine's loopback in the link, which the Toxiproxy server at %s cannot reach: use the embedded server, or one on this machine", apiURL)
}

// httpRuleDef is a rule as the ledger records it.
type httpRuleDef struct {
	Kind    string            `json:"kind"`
	Method  string            `json:"method,omitempty"`
	Path    string            `json:"path,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Percent float64           `json:"percent"`
	Seed    uint64            `json:"seed"`
	Status  int               `json:"status,omitempty"`
	Reset   bool              `json:"reset,omitempty"`
	Delay   time.Duration     `json:"delay,omitempty"`
	Jitter  time.Duration     `json:"jitter,omitempty"`
}

// build makes the live rule; the definition was validated.
func (d httpRuleDef) build() *httpfault.Rule {
	p, _ := httpfault.ParsePattern(d.Path)
	return &httpfault.Rule{Method: d.Method, Path: p, Headers: d.Headers, Percent: d.Percent, Seed: d.Seed,
		Status: d.Status, Reset: d.Reset, Delay: d.Delay, Jitter: d.Jitter}
}

// The HTTP proxies of this process, one per Toxiproxy proxy, by server URL
// and proxy name.
var httpProxies = struct {
	sync.Mutex
	m map[string]*httpfault.Proxy
}{m: map[string]*httpfault.Proxy{}}

func liveHTTPProxy(server, proxy string) *httpfault.Proxy {
	httpProxies.Lock()
	defer httpProxies.Unlock()
	return httpProxies.m[server+" "+proxy]
}

// httpInjection puts an HTTP proxy with the fault's rule in the link of a
// Toxiproxy proxy, and takes it out on revert.
type httpInjection struct {
	Server toxiServer  `json:"toxiproxy"`
	Proxy  proxyTarget `json:"proxy"` // Upstream is the real upstream
	Rule   httpRuleDef `json:"rule"`

	live *httpfault.Rule // this process's rule, once injected
}

var _ Injection = (*httpInjection)(nil)

func (h *httpInjection) Describe() string {
	return fmt.Sprintf("%s %s on %s at %s, seed %d", h.Rule.Kind, h.Rule.build(), h.Proxy, h.Server, h.Rule.Seed)
}

func (h *httpInjection) Inject(ctx context.Context, env *Env) error {
	c, err := ConnectToxiproxy(ctx, h.Server.URL)
	if err != nil {
		return err
	}
	p, err := openProxy(c, &h.Proxy)
	if err != nil {
		return err
	}
	httpProxies.Lock()
	defer httpProxies.Unlock()
	key := h.Server.URL + " " + h.Proxy.Name
	live := httpProxies.m[key]
	if live == nil {
		if live, err = httpfault.Start(ctx, "127.0.0.1:0", h.Proxy.Upstream); err != nil {
			return err
		}
		if err := setUpstream(p, live.Addr()); err != nil {
			return errors.Join(err, live.Close())
		}
		httpProxies.m[key] = live
	}
	h.live = h.Rule.build()
	live.Add(h.live)
	return nil
}

// setUpstream points a proxy at upstream, keeping everything else.
func setUpstream(p *toxiproxy.Proxy, upstream string) error {
	if p.Upstream == upstream {
		return nil
	}
	p.Upstream = upstream
	if err := p.Save(); err != nil {
		return fmt.Errorf("point proxy %s at %s: %w", p.Name, upstream, err)
	}
	return nil
}

func (h *httpInjection) Revert(ctx context.Context, env *Env) (string, error) {
	note := ""
	left := 0
	httpProxies.Lock()
	key := h.Server.URL + " " + h.Proxy.Name
	live := httpProxies.m[key]
	switch {
	case live != nil && h.live != nil:
		left = live.Remove(h.live)
		c := h.live.Counts()
		note = fmt.Sprintf("touched %d of %d matching requests", c.Touched, c.Matched)
	case live != nil:
		note = "reverted from the ledger: its counts stay with the rule"
	default:
		note = "the HTTP proxy ended with the process that injected it"
	}
	if left == 0 {
		delete(httpProxies.m, key)
	}
	httpProxies.Unlock()
	if left > 0 {
		return note + fmt.Sprintf("; %d other HTTP fault(s) keep the HTTP proxy on %s", left, h.Proxy.Name), nil
	}
	restored, err := h.restoreLink(ctx)
	if live != nil {
		err = errors.Join(err, live.Close())
	}
	if err != nil {
		return "", err
	}
	return note + "; " + restored, nil
}

// restoreLink points the Toxiproxy proxy at its real upstream again, and
// deletes it if the fault created it.
func (h *httpInjection) restoreLink(ctx context.Context) (string, error) {
	if h.Server.gone() {
		return fmt.Sprintf("the %s ended with %s", h.Server, h.Server.Owner), nil
	}
	c, err := ConnectToxiproxy(ctx, h.Server.URL)
	if err != nil {
		return "", err
	}
	if h.Proxy.Create {
		s, err := deleteCreatedProxy(c, h.Proxy)
		return strings.TrimPrefix(s, "; "), err
	}
	p, err := c.Proxy(h.Proxy.Name)
	if isToxiproxyNotFound(err) {
		return fmt.Sprintf("proxy %s is gone", h.Proxy.Name), nil
	}
	if err != nil {
		return "", fmt.Errorf("get proxy %s: %w", h.Proxy.Name, err)
	}
	if err := setUpstream(p, h.Proxy.Upstream); err != nil {
		return "", err
	}
	return fmt.Sprintf("proxy %s points at %s again", h.Proxy.Name, h.Proxy.Upstream), nil
}

// statusOK reports whether code is a status an abort may answer with.
func statusOK(code int) bool { return code >= 200 && code <= 599 && http.StatusText(code) != "" }
