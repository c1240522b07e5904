package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"

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

// validateProxyFields checks the fields naming and creating a proxy.
func validateProxyFields(s Spec) []error {
	var errs []error
	switch {
	case s.Proxy == "":
		errs = append(errs, errors.New("proxy is required: the name of the Toxiproxy proxy"))
	case !proxyName.MatchString(s.Proxy):
		errs = append(errs, fmt.Errorf("proxy name %q: use letters, digits, '.', '_' and '-'", s.Proxy))
	}
	if s.Listen != "" && s.Upstream == "" {
		errs = append(errs, errors.New("listen needs upstream: they create the proxy together"))
	}
	if s.Upstream != "" {
		if _, _, err := net.SplitHostPort(s.Upstream); err != nil {
			errs = append(errs, fmt.Errorf("upstream %q: want HOST:PORT", s.Upstream))
		}
	}
	if s.Listen != "" {
		if _, _, err := net.SplitHostPort(s.Listen); err != nil {
			errs = append(errs, fmt.Errorf("listen %q: want HOST:PORT", s.Listen))
		}
	}
	return errs
}

// resolveProxy finds the proxy a fault names on the server, or plans its
// creation when the fault gives an upstream.
func resolveProxy(ctx context.Context, env *Env, s Spec) (toxiServer, proxyTarget, error) {
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

// toxicKind describes one Toxiproxy toxic as a fault kind.
type toxicKind struct {
	name    string // the fault kind and the toxic type
	summary string
	fields  []string // the toxic's own fields, beyond the ones every toxic has
	// validate checks the toxic's own fields.
	validate func(Spec) []error
	// attributes converts a valid spec to the toxic's attributes.
	attributes func(Spec) toxiproxy.Attributes
	// describe says what the toxic does, such as "latency 200ms ±20ms".
	describe func(Spec) string
}

// toxicFields are the fields every toxic kind accepts.
var toxicFields = []string{"proxy", "listen", "upstream", "stream", "toxicity"}

// registerToxic registers a toxic as a fault kind.
func registerToxic(tk toxicKind) {
	registerKind(kind{
		name:         tk.name,
		group:        "toxiproxy",
		summary:      tk.summary,
		fields:       append(append([]string{}, toxicFields...), tk.fields...),
		build:        func(s Spec) Fault { return &toxicFault{kind: tk, spec: s} },
		newInjection: func() Injection { return new(toxicInjection) },
	})
}

// toxicFault is a fault that adds one toxic to a proxy.
type toxicFault struct {
	kind toxicKind
	spec Spec
}

var _ Fault = (*toxicFault)(nil)

func (f *toxicFault) Kind() string { return f.kind.name }

func (f *toxicFault) Validate() []error {
	errs := validateProxyFields(f.spec)
	switch f.spec.Stream {
	case "", "downstream", "upstream":
	default:
		errs = append(errs, fmt.Errorf("stream %q: want upstream or downstream", f.spec.Stream))
	}
	if t := f.spec.Toxicity; t != nil && (*t < 0 || *t > 1) {
		errs = append(errs, fmt.Errorf("toxicity %v: want a probability in [0, 1]", *t))
	}
	return append(errs, f.kind.validate(f.spec)...)
}

func (f *toxicFault) stream() string {
	if f.spec.Stream == "" {
		return "downstream"
	}
	return f.spec.Stream
}

func (f *toxicFault) toxicity() float32 {
	if f.spec.Toxicity == nil {
		return 1
	}
	return float32(*f.spec.Toxicity)
}

func (f *toxicFault) Describe() string {
	return fmt.Sprintf("%s on proxy %s", f.what(), f.spec.Proxy)
}

func (f *toxicFault) what() string {
	s := f.kind.describe(f.spec) + " " + f.stream()
	if t := f.toxicity(); t != 1 {
		s += fmt.Sprintf(", toxicity %v", t)
	}
	return s
}

func (f *toxicFault) Resolve(ctx context.Context, env *Env) (Injection, error) {
	server, target, err := resolveProxy(ctx, env, f.spec)
	if err != nil {
		return nil, err
	}
	var b [4]byte
	rand.Read(b[:])
	return &toxicInjection{
		Server: server,
		Proxy:  target,
		Toxic: toxicDef{
			Name:       "faultline_" + f.kind.name + "_" + hex.EncodeToString(b[:]),
			Type:       f.kind.name,
			Stream:     f.stream(),
			Toxicity:   f.toxicity(),
			Attributes: f.kind.attributes(f.spec),
		},
		What: f.what(),
	}, nil
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
