package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
)

// ServeProxy is a proxy `faultline chaos toxiproxy serve --proxy` creates at
// start-up: NAME=LISTEN=UPSTREAM.
type ServeProxy struct {
	Name, Listen, Upstream string
}

// ParseServeProxy parses NAME=LISTEN=UPSTREAM, such as
// web=0.0.0.0:8080=10.96.0.12:80.
func ParseServeProxy(s string) (ServeProxy, error) {
	parts := strings.Split(s, "=")
	if len(parts) != 3 {
		return ServeProxy{}, fmt.Errorf("%q: want NAME=LISTEN=UPSTREAM, such as web=0.0.0.0:8080=10.96.0.12:80", s)
	}
	p := ServeProxy{Name: parts[0], Listen: parts[1], Upstream: parts[2]}
	if !proxyName.MatchString(p.Name) {
		return ServeProxy{}, fmt.Errorf("%q: proxy name %q: use letters, digits, '.', '_' and '-'", s, p.Name)
	}
	for _, addr := range []string{p.Listen, p.Upstream} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return ServeProxy{}, fmt.Errorf("%q: %q: want HOST:PORT", s, addr)
		}
	}
	return p, nil
}

// ServeToxic is a toxic `faultline chaos toxiproxy serve --toxic` adds to
// every proxy it creates at start-up: the JSON body Toxiproxy's API takes
// (name, type, stream, toxicity, attributes).
type ServeToxic struct{ def toxicDef }

// ParseServeToxic parses a toxic's JSON body, such as
// {"type":"latency","attributes":{"latency":100}}; the name defaults to
// the type, the stream to downstream, the toxicity to 1.
func ParseServeToxic(s string) (ServeToxic, error) {
	def := toxicDef{Stream: "downstream", Toxicity: 1}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&def); err != nil {
		return ServeToxic{}, fmt.Errorf("%q: want a toxic as Toxiproxy's API takes it, such as {\"type\":\"latency\",\"attributes\":{\"latency\":100}}: %w", s, err)
	}
	if def.Type == "" {
		return ServeToxic{}, fmt.Errorf("%q: the toxic has no type", s)
	}
	if def.Name == "" {
		def.Name = def.Type
	}
	return ServeToxic{def: def}, nil
}

// Setup creates proxies on the server, and adds every toxic to each, through
// the server's own API: what `chaos toxiproxy serve --proxy --toxic` does
// before it reports the server ready, and how a proxy pod in front of a
// Kubernetes Service is faulted from its first connection on.
func (t *Toxiproxy) Setup(ctx context.Context, proxies []ServeProxy, toxics []ServeToxic) error {
	c, err := ConnectToxiproxy(ctx, t.url)
	if err != nil {
		return err
	}
	for _, sp := range proxies {
		p, err := c.CreateProxy(sp.Name, sp.Listen, sp.Upstream)
		if err != nil {
			return fmt.Errorf("create proxy %s (%s -> %s): %w", sp.Name, sp.Listen, sp.Upstream, err)
		}
		for _, tx := range toxics {
			d := tx.def
			if _, err := p.AddToxic(d.Name, d.Type, d.Stream, d.Toxicity, d.Attributes); err != nil {
				return fmt.Errorf("add toxic %s to proxy %s: %w", d.Name, sp.Name, err)
			}
		}
	}
	return nil
}
