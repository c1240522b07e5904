package chaos

import (
	"context"
	"fmt"
)

func init() {
	registerKind(kind{
		name:         "down",
		group:        GroupToxiproxy,
		summary:      "disable the proxy: new connections are refused and every live one is closed",
		newFault:     func() Fault { return new(downFault) },
		newInjection: func() Injection { return new(downInjection) },
	})
}

// downFault disables a proxy.
type downFault struct {
	Target proxyFields `yaml:",inline"`
}

var _ Fault = (*downFault)(nil)

func (f *downFault) Kind() string      { return "down" }
func (f *downFault) Validate() []error { return f.Target.validate() }
func (f *downFault) Describe() string  { return "down: proxy " + f.Target.Proxy + " disabled" }

func (f *downFault) Resolve(ctx context.Context, env *Env) (Injection, error) {
	server, target, err := resolveProxy(ctx, env, f.Target)
	if err != nil {
		return nil, err
	}
	return &downInjection{Server: server, Proxy: target}, nil
}

// downInjection disables a proxy and enables it again on revert, unless it
// was already disabled before.
type downInjection struct {
	Server toxiServer  `json:"toxiproxy"`
	Proxy  proxyTarget `json:"proxy"`
}

var _ Injection = (*downInjection)(nil)

func (d *downInjection) Describe() string {
	return fmt.Sprintf("down: %s disabled at %s", d.Proxy, d.Server)
}

func (d *downInjection) Inject(ctx context.Context, env *Env) error {
	c, err := ConnectToxiproxy(ctx, d.Server.URL)
	if err != nil {
		return err
	}
	p, err := openProxy(c, &d.Proxy)
	if err != nil {
		return err
	}
	if !p.Enabled {
		return nil
	}
	if err := p.Disable(); err != nil {
		return fmt.Errorf("disable proxy %s: %w", d.Proxy.Name, err)
	}
	return nil
}

func (d *downInjection) Revert(ctx context.Context, env *Env) (string, error) {
	if d.Server.gone() {
		return fmt.Sprintf("nothing to do: the %s ended with %s", d.Server, d.Server.Owner), nil
	}
	c, err := ConnectToxiproxy(ctx, d.Server.URL)
	if err != nil {
		return "", err
	}
	p, err := c.Proxy(d.Proxy.Name)
	if isToxiproxyNotFound(err) {
		return fmt.Sprintf("proxy %s is gone", d.Proxy.Name), nil
	}
	if err != nil {
		return "", fmt.Errorf("get proxy %s at %s: %w", d.Proxy.Name, d.Server.URL, err)
	}
	note := fmt.Sprintf("proxy %s was disabled before the fault: left disabled", d.Proxy.Name)
	if d.Proxy.Enabled {
		note = fmt.Sprintf("proxy %s enabled", d.Proxy.Name)
		if !p.Enabled {
			if err := p.Enable(); err != nil {
				return "", fmt.Errorf("enable proxy %s at %s: %w", d.Proxy.Name, d.Server.URL, err)
			}
		}
	}
	deleted, err := deleteCreatedProxy(c, d.Proxy)
	if err != nil {
		return "", err
	}
	return note + deleted, nil
}
