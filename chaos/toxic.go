package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// This file holds what the network faults share: the Toxiproxy server and
// proxy an injection acts on, and the toxic fault every toxic kind is.

// toxiServer is the Toxiproxy server an injection acts on, as the ledger
// records it.
type toxiServer struct {
	URL string `json:"url"`
	// Embedded says the server ran inside Owner, so its proxies and toxics
	// ended with that process.
	Embedded bool   `json:"embedded,omitempty"`
	Owner    *Owner `json:"owner,omitempty"`
}

func serverOf(env *Env) toxiServer {
	s := toxiServer{URL: env.ToxiproxyURL, Embedded: env.ToxiproxyEmbedded}
	if s.Embedded {
		o := self()
		s.Owner = &o
	}
	return s
}

// gone reports whether the server was embedded in a process that has ended.
func (s toxiServer) gone() bool { return s.Embedded && s.Owner != nil && !s.Owner.Alive() }

func (s toxiServer) String() string {
	if s.Embedded {
		return "embedded toxiproxy " + s.URL
	}
	return "toxiproxy " + s.URL
}

// proxyTarget is the proxy an injection acts on.
type proxyTarget struct {
	Name     string `json:"name"`
	Listen   string `json:"listen,omitempty"`
	Upstream string `json:"upstream,omitempty"`
	// Create says the injection creates the proxy, and deletes it on revert.
	Create bool `json:"create,omitempty"`
	// Enabled is whether the proxy was enabled when the fault was resolved.
	Enabled bool `json:"enabled"`
}

func (p proxyTarget) String() string {
	return fmt.Sprintf("proxy %s (%s -> %s)", p.Name, p.Listen, p.Upstream)
}

// proxyName is what a proxy name may hold: the official client puts it in
// URL paths unescaped.
var proxyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// proxyFields name the proxy a network fault acts on, and create it when
// it does not exist. Every network kind has them.
type proxyFields struct {
	Proxy    string `yaml:"proxy,omitempty" doc:"the name of the Toxiproxy proxy (required; letters, digits, '.', '_', '-')"`
	Upstream string `yaml:"upstream,omitempty" doc:"HOST:PORT: if the proxy does not exist, create it to this upstream (deleted again on revert); if it exists, its upstream must be this one"`
	Listen   string `yaml:"listen,omitempty" doc:"with upstream: the address the created proxy listens on (default 127.0.0.1:0, a port the OS picks)"`
}

// validate checks the fields naming and creating a proxy.
func (p proxyFields) validate() []error {
	var errs []error
	switch {
	case p.Proxy == "":
		errs = append(errs, fieldErrorf("proxy", "proxy is required: the name of the Toxiproxy proxy"))
	case !proxyName.MatchString(p.Proxy):
		errs = append(errs, fieldErrorf("proxy", "proxy name %q: use letters, digits, '.', '_' and '-'", p.Proxy))
	}
	if p.Listen != "" && p.Upstream == "" {
		errs = append(errs, fieldErrorf("listen", "listen needs upstream: they create the proxy together"))
	}
	if p.Upstream != "" {
		if _, _, err := net.SplitHostPort(p.Upstream); err != nil {
			errs = append(errs, fieldErrorf("upstream", "upstream %q: want HOST:PORT", p.Upstream))
		}
	}
	if p.Listen != "" {
		if _, _, err := net.SplitHostPort(p.Listen); err != nil {
			errs = append(errs, fieldErrorf("listen", "listen %q: want HOST:PORT", p.Listen))
		}
	}
	return errs
}

// resolveProxy finds the proxy a fault names on the server, or plans its
// creation when the fault gives an upstream.
func resolveProxy(ctx context.Context, env *Env, s proxyFields) (toxiServer, proxyTarget, error) {
	server := serverOf(env)
	c, err := ConnectToxiproxy(ctx, server.URL)
	if err != nil {
		return server, proxyTarget{}, err
	}
	proxies, err := c.Proxies()
	if err != nil {
		return server, proxyTarget{}, fmt.Errorf("list proxies at %s: %w", server.URL, err)
	}
	if p, ok := proxies[s.Proxy]; ok {
		if s.Upstream != "" && p.Upstream != s.Upstream {
			return server, proxyTarget{}, fmt.Errorf("proxy %s exists at %s with upstream %s, not %s", s.Proxy, server, p.Upstream, s.Upstream)
		}
		return server, proxyTarget{Name: p.Name, Listen: p.Listen, Upstream: p.Upstream, Enabled: p.Enabled}, nil
	}
	if s.Upstream != "" {
		listen := s.Listen
		if listen == "" {
			listen = "127.0.0.1:0"
		}
		return server, proxyTarget{Name: s.Proxy, Listen: listen, Upstream: s.Upstream, Create: true, Enabled: true}, nil
	}
	names := make([]string, 0, len(proxies))
	for name := range proxies {
		names = append(names, name)
	}
	sort.Strings(names)
	there := "it has no proxies"
	if len(names) > 0 {
		there = "proxies there: " + strings.Join(names, ", ")
	}
	hint := "give upstream (and listen) to create it"
	if server.Embedded {
		hint = "the embedded server starts empty: give upstream (and listen) to create it, or --toxiproxy-url for a server of your own"
	}
	return server, proxyTarget{}, fmt.Errorf("proxy %q not found at %s (%s); %s", s.Proxy, server, there, hint)
}

// openProxy returns the proxy, creating it first when the injection says so.
func openProxy(c *toxiproxy.Client, target *proxyTarget) (*toxiproxy.Proxy, error) {
	if target.Create {
		p, err := c.CreateProxy(target.Name, target.Listen, target.Upstream)
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", target, err)
		}
		target.Listen = p.Listen
		return p, nil
	}
	p, err := c.Proxy(target.Name)
	if err != nil {
		return nil, fmt.Errorf("get proxy %s: %w", target.Name, err)
	}
	return p, nil
}

// deleteCreatedProxy deletes a proxy the injection created; a proxy
// already gone is fine.
func deleteCreatedProxy(c *toxiproxy.Client, target proxyTarget) (string, error) {
	if !target.Create {
		return "", nil
	}
	p := c.NewProxy()
	p.Name = target.Name
	if err := p.Delete(); err != nil && !isToxiproxyNotFound(err) {
		return "", fmt.Errorf("delete proxy %s: %w", target.Name, err)
	}
	return fmt.Sprintf("; deleted proxy %s", target.Name), nil
}

// toxicAttrs are the fields of one Toxiproxy toxic, beyond the ones every
// toxic has: a toxic kind is its attributes struct and a registerToxic line
// (see latency.go).
type toxicAttrs interface {
	// validate checks the toxic's own fields.
	validate() []error
	// attributes converts valid fields to the toxic's attributes.
	attributes() toxiproxy.Attributes
	// describe says what the toxic does, such as "latency 200ms ±20ms".
	describe() string
}

// toxicFields are the fields every toxic has, beyond the proxy's.
type toxicFields struct {
	Stream   string   `yaml:"stream,omitempty" default:"downstream" enum:"downstream,upstream" doc:"the direction the toxic applies to: downstream (server to client) or upstream (client to server)"`
	Toxicity *float64 `yaml:"toxicity,omitempty" default:"1" doc:"the probability, from 0 to 1, that the toxic applies to a connection (drawn once per connection, not per request)"`
}

// validate checks the fields every toxic has.
func (t toxicFields) validate() []error {
	var errs []error
	switch t.Stream {
	case "", "downstream", "upstream":
	default:
		errs = append(errs, fieldErrorf("stream", "stream %q: want upstream or downstream", t.Stream))
	}
	if x := t.Toxicity; x != nil && (*x < 0 || *x > 1) {
		errs = append(errs, fieldErrorf("toxicity", "toxicity %v: want a probability in [0, 1]", *x))
	}
	return errs
}

func (t toxicFields) stream() string {
	if t.Stream == "" {
		return "downstream"
	}
	return t.Stream
}

func (t toxicFields) toxicity() float32 {
	if t.Toxicity == nil {
		return 1
	}
	return float32(*t.Toxicity)
}

// toxicWhat says what a toxic does and where it applies, such as
// "latency 200ms downstream, toxicity 0.5".
func toxicWhat(t toxicFields, a toxicAttrs) string {
	s := a.describe() + " " + t.stream()
	if x := t.toxicity(); x != 1 {
		s += fmt.Sprintf(", toxicity %v", x)
	}
	return s
}

// newToxicDef is the toxic a fault of type typ adds, under a fresh name.
func newToxicDef(typ string, t toxicFields, a toxicAttrs) toxicDef {
	var b [4]byte
	rand.Read(b[:])
	return toxicDef{
		Name:       "faultline_" + typ + "_" + hex.EncodeToString(b[:]),
		Type:       typ,
		Stream:     t.stream(),
		Toxicity:   t.toxicity(),
		Attributes: a.attributes(),
	}
}

// registerToxic registers a toxic, named as its Toxiproxy type, as a fault
// kind on a Toxiproxy proxy, and as the fault kind service_<name> on a
// Kubernetes Service (see service_toxic.go): one attributes struct, two
// kinds.
func registerToxic[A toxicAttrs](name, summary string) {
	registerKind(kind{
		name:         name,
		group:        GroupToxiproxy,
		summary:      summary,
		newFault:     func() Fault { return &toxicFault[A]{kind: name} },
		newInjection: func() Injection { return new(toxicInjection) },
	})
	registerServiceToxic[A](name, summary)
}

// toxicFault is a fault that adds one toxic to a proxy.
type toxicFault[A toxicAttrs] struct {
	kind   string
	Target proxyFields `yaml:",inline"`
	Toxic  toxicFields `yaml:",inline"`
	Attrs  A           `yaml:",inline"`
}

func (f *toxicFault[A]) Kind() string { return f.kind }

func (f *toxicFault[A]) Validate() []error {
	errs := append(f.Target.validate(), f.Toxic.validate()...)
	return append(errs, f.Attrs.validate()...)
}

func (f *toxicFault[A]) Describe() string {
	return fmt.Sprintf("%s on proxy %s", f.what(), f.Target.Proxy)
}

func (f *toxicFault[A]) what() string { return toxicWhat(f.Toxic, f.Attrs) }

func (f *toxicFault[A]) Resolve(ctx context.Context, env *Env) (Injection, error) {
	server, target, err := resolveProxy(ctx, env, f.Target)
	if err != nil {
		return nil, err
	}
	return &toxicInjection{
		Server: server,
		Proxy:  target,
		Toxic:  newToxicDef(f.kind, f.Toxic, f.Attrs),
		What:   f.what(),
	}, nil
}

// wholeMillis converts d for a Toxiproxy attribute counted in milliseconds.
func wholeMillis(field string, d time.Duration) (int64, error) {
	if d < 0 {
		return 0, fieldErrorf(field, "%s must not be negative (got %s)", field, d)
	}
	if d%time.Millisecond != 0 {
		return 0, fieldErrorf(field, "%s must be a whole number of milliseconds (got %s)", field, d)
	}
	return int64(d / time.Millisecond), nil
}

// toxicDef is a toxic as the Toxiproxy API takes it.
type toxicDef struct {
	Name       string               `json:"name"`
	Type       string               `json:"type"`
	Stream     string               `json:"stream"`
	Toxicity   float32              `json:"toxicity"`
	Attributes toxiproxy.Attributes `json:"attributes"`
}

// toxicInjection adds a toxic to a proxy, creating the proxy first when
// asked, and removes both on revert.
type toxicInjection struct {
	Server toxiServer  `json:"toxiproxy"`
	Proxy  proxyTarget `json:"proxy"`
	Toxic  toxicDef    `json:"toxic"`
	What   string      `json:"what"`
}

var _ Injection = (*toxicInjection)(nil)

func (t *toxicInjection) Describe() string {
	return fmt.Sprintf("%s on %s at %s", t.What, t.Proxy, t.Server)
}

func (t *toxicInjection) Inject(ctx context.Context, env *Env) error {
	c, err := ConnectToxiproxy(ctx, t.Server.URL)
	if err != nil {
		return err
	}
	p, err := openProxy(c, &t.Proxy)
	if err != nil {
		return err
	}
	if _, err := p.AddToxic(t.Toxic.Name, t.Toxic.Type, t.Toxic.Stream, t.Toxic.Toxicity, t.Toxic.Attributes); err != nil {
		return fmt.Errorf("add toxic %s to proxy %s: %w", t.Toxic.Name, t.Proxy.Name, err)
	}
	return nil
}

func (t *toxicInjection) Revert(ctx context.Context, env *Env) (string, error) {
	if t.Server.gone() {
		return fmt.Sprintf("nothing to do: the %s ended with %s", t.Server, t.Server.Owner), nil
	}
	c, err := ConnectToxiproxy(ctx, t.Server.URL)
	if err != nil {
		return "", err
	}
	p := c.NewProxy()
	p.Name = t.Proxy.Name
	note := fmt.Sprintf("removed toxic %s", t.Toxic.Name)
	if err := p.RemoveToxic(t.Toxic.Name); err != nil {
		if !isToxiproxyNotFound(err) {
			return "", fmt.Errorf("remove toxic %s from proxy %s at %s: %w", t.Toxic.Name, t.Proxy.Name, t.Server.URL, err)
		}
		note = fmt.Sprintf("toxic %s was already gone", t.Toxic.Name)
	}
	deleted, err := deleteCreatedProxy(c, t.Proxy)
	if err != nil {
		return "", err
	}
	return note + deleted, nil
}
