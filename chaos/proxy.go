package chaos

import (
	"context"
	"fmt"
)

// The proxy "kind" is not a fault: it is how the experiment runner creates
// the proxies an experiment declares, through a Session, so that the ledger
// records them and a revert (or cleanup after a crash) deletes them. It is
// hidden from Kinds, and NewFault rejects it; build it with NewProxy.
func init() {
	registerKind(kind{
		name:         "proxy",
		group:        GroupToxiproxy,
		summary:      "create a Toxiproxy proxy; revert deletes it",
		hidden:       true,
		newFault:     func() Fault { return new(proxyFault) },
		newInjection: func() Injection { return new(proxyInjection) },
	})
}

// NewProxy returns what creates the proxy name, listening on listen (empty
// means 127.0.0.1:0) and forwarding to upstream, when a Session injects it;
// reverting it deletes the proxy. If the proxy already exists with the same
// upstream, it is used as it is and left in place on revert. The listen
// address the server chose is in the Entry's Injection: see ProxyListen.
func NewProxy(name, listen, upstream string) (Fault, error) {
	f := &proxyFault{Target: proxyFields{Proxy: name, Listen: listen, Upstream: upstream}}
	if errs := f.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("proxy %s: %w", name, errs[0])
	}
	return f, nil
}

// ProxyListen returns the address a proxy created by NewProxy listens on,
// from the entry the Session returned.
func ProxyListen(e *Entry) (string, bool) {
	p, ok := e.Injection.(*proxyInjection)
	if !ok {
		return "", false
	}
	return p.Proxy.Listen, true
}

type proxyFault struct {
	Target proxyFields `yaml:",inline"`
}

var _ Fault = (*proxyFault)(nil)

func (f *proxyFault) Kind() string { return "proxy" }

func (f *proxyFault) Validate() []error {
	errs := f.Target.validate()
	if f.Target.Upstream == "" {
		errs = append(errs, fmt.Errorf("upstream is required"))
	}
	return errs
}

func (f *proxyFault) Describe() string {
	return fmt.Sprintf("proxy %s -> %s", f.Target.Proxy, f.Target.Upstream)
}

func (f *proxyFault) Resolve(ctx context.Context, env *Env) (Injection, error) {
	server, target, err := resolveProxy(ctx, env, f.Target)
	if err != nil {
		return nil, err
	}
	return &proxyInjection{Server: server, Proxy: target}, nil
}

// proxyInjection creates a proxy and deletes it on revert.
type proxyInjection struct {
	Server toxiServer  `json:"toxiproxy"`
	Proxy  proxyTarget `json:"proxy"`
}

var _ Injection = (*proxyInjection)(nil)

func (p *proxyInjection) Describe() string {
	verb := "use existing"
	if p.Proxy.Create {
		verb = "create"
	}
	return fmt.Sprintf("%s %s at %s", verb, p.Proxy, p.Server)
}

func (p *proxyInjection) Inject(ctx context.Context, env *Env) error {
	c, err := ConnectToxiproxy(ctx, p.Server.URL)
	if err != nil {
		return err
	}
	_, err = openProxy(c, &p.Proxy)
	return err
}

func (p *proxyInjection) Revert(ctx context.Context, env *Env) (string, error) {
	if !p.Proxy.Create {
		return fmt.Sprintf("proxy %s existed before: left in place", p.Proxy.Name), nil
	}
	if p.Server.gone() {
		return fmt.Sprintf("nothing to do: the %s ended with %s", p.Server, p.Server.Owner), nil
	}
	c, err := ConnectToxiproxy(ctx, p.Server.URL)
	if err != nil {
		return "", err
	}
	if _, err := deleteCreatedProxy(c, p.Proxy); err != nil {
		return "", err
	}
	return fmt.Sprintf("deleted proxy %s", p.Proxy.Name), nil
}
