package targets

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"time"
)

// The services, in start order: each one's upstreams come before it.
const (
	Store   = "store"
	Catalog = "catalog"
	Orders  = "orders"
	Gateway = "gateway"
)

// Services lists every service name in start order.
func Services() []string { return []string{Store, Catalog, Orders, Gateway} }

// Link is a call path from one service to the next, such as catalog->store.
type Link struct{ From, To string }

func (l Link) String() string { return l.From + "->" + l.To }

// Links lists every link of the shop; each can be pointed elsewhere (a
// Toxiproxy proxy, say) with StartOptions.Upstreams or Shop.SetUpstream.
func Links() []Link {
	return []Link{{Gateway, Catalog}, {Gateway, Orders}, {Catalog, Store}, {Orders, Store}}
}

// upstreamsOf lists the services name calls.
func upstreamsOf(name string) []string {
	var out []string
	for _, l := range Links() {
		if l.From == name {
			out = append(out, l.To)
		}
	}
	return out
}

// ParseLink parses "catalog->store".
func ParseLink(s string) (Link, error) {
	from, to, ok := strings.Cut(strings.TrimSpace(s), "->")
	l := Link{From: strings.TrimSpace(from), To: strings.TrimSpace(to)}
	if ok && slices.Contains(Links(), l) {
		return l, nil
	}
	names := make([]string, 0, 4)
	for _, l := range Links() {
		names = append(names, l.String())
	}
	return Link{}, fmt.Errorf("unknown link %q (known: %s)", s, strings.Join(names, ", "))
}

// CheckServices returns the names in start order without duplicates, or an
// error naming an unknown one. No names means every service.
func CheckServices(names []string) ([]string, error) {
	if len(names) == 0 {
		return Services(), nil
	}
	want := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if !slices.Contains(Services(), n) {
			return nil, fmt.Errorf("unknown service %q (known: %s)", n, strings.Join(Services(), ", "))
		}
		want[n] = true
	}
	var out []string
	for _, n := range Services() {
		if want[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

// StartOptions says which services Start runs and how they are wired.
type StartOptions struct {
	// Only lists the services to start; empty means all.
	Only []string
	// Listen sets a service's listen address ("127.0.0.1:9001", ":8080");
	// the default is 127.0.0.1:0, a port the OS picks.
	Listen map[string]string
	// Upstreams points a link, keyed "catalog->store", at an address
	// ("127.0.0.1:9000" or "http://host:port") instead of the in-process
	// service. A started service whose upstream is neither started nor given
	// here is an error. Links can also be moved after Start with
	// Shop.SetUpstream, once the addresses of the started services are
	// known (for example to put a proxy in front of store).
	Upstreams map[string]string
	// Logger receives lifecycle events (crash, restore, breaker state
	// changes, orders given up); nil discards them.
	Logger *slog.Logger
	// ShutdownGrace is how long Close lets requests in flight finish;
	// 0 means 2s.
	ShutdownGrace time.Duration
}

// Validate checks the options without starting anything: known services,
// links and addresses, and every link of a started service leading
// somewhere.
func (o StartOptions) Validate() error {
	names, err := CheckServices(o.Only)
	if err != nil {
		return fmt.Errorf("only: %w", err)
	}
	given := map[Link]bool{}
	for k, addr := range o.Upstreams {
		l, err := ParseLink(k)
		if err != nil {
			return fmt.Errorf("upstream: %w", err)
		}
		if _, err := parseUpstream(addr); err != nil {
			return fmt.Errorf("upstream %s: %w", k, err)
		}
		given[l] = true
	}
	for k, addr := range o.Listen {
		if !slices.Contains(Services(), k) {
			return fmt.Errorf("listen: unknown service %q (known: %s)", k, strings.Join(Services(), ", "))
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("listen %s: address %q: want host:port", k, addr)
		}
	}
	for _, n := range names {
		for _, up := range upstreamsOf(n) {
			l := Link{n, up}
			if !given[l] && !slices.Contains(names, up) {
				return fmt.Errorf("%s needs %s: start it too, or give the address of link %s", n, up, l)
			}
		}
	}
	return nil
}

// Shop is a set of services running in this process.
type Shop struct {
	services  map[string]*Service
	order     []string
	upstreams map[string]*upstream // keyed by link
	apps      []app
	grace     time.Duration

	closeOnce sync.Once
}

// Start validates cfg and starts the selected services, each on its own
// listener, upstreams first. ctx bounds the start only: the services run
// until Close. On error, whatever was started is stopped again.
func Start(ctx context.Context, cfg Config, opts StartOptions) (*Shop, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	names, _ := CheckServices(opts.Only)
	overrides := map[Link]string{}
	for k, addr := range opts.Upstreams {
		l, _ := ParseLink(k)
		overrides[l] = addr
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Int64()
	}
	s := &Shop{services: map[string]*Service{}, upstreams: map[string]*upstream{}, grace: opts.ShutdownGrace}
	if s.grace <= 0 {
		s.grace = 2 * time.Second
	}

	// Listen first, so that every address is known before any service
	// needs its upstreams'.
	listeners, err := listenAll(ctx, names, opts.Listen)
	if err != nil {
		return nil, err
	}
	link := func(from, to string) *upstream {
		l := Link{from, to}
		addr, ok := overrides[l]
		if !ok {
			addr = dialAddr(listeners[to].Addr())
		}
		u, err := newUpstream(l.String(), addr, cfg.Links.MaxConnAge)
		if err != nil {
			panic(err) // checked above
		}
		s.upstreams[l.String()] = u
		return u
	}
	for _, n := range names {
		m := newMetrics(n)
		var a app
		switch n {
		case Store:
			a = newStore(cfg.Store, seed, m)
		case Catalog:
			a = newCatalog(cfg.Catalog, link(Catalog, Store), m)
		case Orders:
			a = newOrders(cfg.Orders, link(Orders, Store), seed, logger, m)
		case Gateway:
			a = newGateway(cfg.Gateway, link(Gateway, Catalog), link(Gateway, Orders), seed, logger, m)
		}
		s.apps = append(s.apps, a)
		svc := newService(n, newHandler(a, m), logger)
		svc.mu.Lock()
		svc.serve(listeners[n])
		svc.mu.Unlock()
		s.services[n] = svc
		s.order = append(s.order, n)
	}
	return s, nil
}

// listenAll opens a listener for each of names, at its address in addrs or
// on a port the OS picks on loopback. On error it closes those it opened.
func listenAll(ctx context.Context, names []string, addrs map[string]string) (map[string]net.Listener, error) {
	listeners := map[string]net.Listener{}
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			closeListeners(listeners)
			return nil, err
		}
		addr := addrs[n]
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		ln, err := listen(n, addr)
		if err != nil {
			closeListeners(listeners)
			return nil, err
		}
		listeners[n] = ln
	}
	return listeners, nil
}

// dialAddr turns a listener's address into one to dial: a wildcard host
// becomes loopback.
func dialAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func closeListeners(ls map[string]net.Listener) {
	for _, ln := range ls {
		ln.Close()
	}
}

// Names lists the running services in start order.
func (s *Shop) Names() []string { return slices.Clone(s.order) }

// Service returns the handle of a running service, or nil.
func (s *Shop) Service(name string) *Service { return s.services[name] }

// Addr is a service's host:port, or "" when it is not running here.
func (s *Shop) Addr(name string) string {
	if svc := s.services[name]; svc != nil {
		return dialAddr(tcpAddr(svc.Addr()))
	}
	return ""
}

// URL is a service's base URL, or "" when it is not running here.
func (s *Shop) URL(name string) string {
	return baseURL(s.Addr(name))
}

type tcpAddr string

func (a tcpAddr) Network() string { return "tcp" }
func (a tcpAddr) String() string  { return string(a) }

// Upstream is the current address of a link ("catalog->store"), or "" when
// its service is not running.
func (s *Shop) Upstream(link string) string {
	if u := s.upstreams[link]; u != nil {
		return u.addr()
	}
	return ""
}

// SetUpstream points a link of a running service at addr from now on, such
// as a Toxiproxy proxy in front of the in-process store.
func (s *Shop) SetUpstream(link, addr string) error {
	l, err := ParseLink(link)
	if err != nil {
		return err
	}
	u := s.upstreams[l.String()]
	if u == nil {
		return fmt.Errorf("link %s: %s is not running", l, l.From)
	}
	return u.set(addr)
}

// Close stops every service (gateway first), lets requests in flight finish
// for the shutdown grace, and waits for every goroutine it started.
func (s *Shop) Close() error {
	s.closeOnce.Do(func() {
		for i := len(s.order) - 1; i >= 0; i-- {
			s.services[s.order[i]].shutdown(s.grace)
			s.apps[i].close()
		}
	})
	return nil
}

// Table returns one row per running service: name, address and URL.
func (s *Shop) Table() [][3]string {
	return addrTable(s.order, s.Addr)
}

// baseURL is the http:// base URL of addr, or "" when addr is "".
func baseURL(addr string) string {
	if addr == "" {
		return ""
	}
	return "http://" + addr
}

// addrTable is one row per service in order: name, address and base URL;
// the in-process, Docker and Kubernetes shops print it alike.
func addrTable(order []string, addr func(string) string) [][3]string {
	rows := make([][3]string, 0, len(order))
	for _, n := range order {
		a := addr(n)
		rows = append(rows, [3]string{n, a, baseURL(a)})
	}
	return rows
}
