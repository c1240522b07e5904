package experiments

import (
	"context"
	"fmt"
	"net"
	"time"
)

func init() {
	registerProbe(probeKind{name: "tcp", newCheck: func() probeCheck { return new(TCPProbe) }})
}

// TCPProbe checks that a port accepts connections: the steady state of a
// service that speaks no HTTP (a database, a cache, a broker), or of a
// proxy. It connects, and closes at once.
type TCPProbe struct {
	// Address is HOST:PORT, often ${targets.NAME.addr} or
	// ${proxies.NAME.addr}.
	Address string `yaml:"address"`
	// MaxLatency bounds the time to connect.
	MaxLatency time.Duration `yaml:"max_latency"`
	// Timeout bounds the attempt (default 5s).
	Timeout time.Duration `yaml:"timeout"`
}

func (p *TCPProbe) validate(v *validator, path string) {
	switch {
	case p.Address == "":
		v.problem(path+".address", "a tcp probe needs address: HOST:PORT")
	case !containsRef(p.Address):
		if _, port, err := net.SplitHostPort(p.Address); err != nil || port == "" {
			v.problem(path+".address", "%q: want HOST:PORT", p.Address)
		}
	}
	if p.MaxLatency < 0 {
		v.problem(path+".max_latency", "must not be negative")
	}
	if p.Timeout < 0 {
		v.problem(path+".timeout", "must not be negative")
	}
}

func (p *TCPProbe) describe() string { return "tcp connect to " + p.Address }

func (p *TCPProbe) check(ctx context.Context, resolve func(string) string) probeResult {
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = defaultProbeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := resolve(p.Address)
	began := time.Now()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	took := time.Since(began)
	if err != nil {
		return probeResult{Verdict: Deviated, Detail: fmt.Sprintf("connect to %s: %v", addr, err)}
	}
	conn.Close()
	measured := fmt.Sprintf("connected in %s", took.Round(time.Microsecond))
	if p.MaxLatency > 0 && took > p.MaxLatency {
		return probeResult{Verdict: Deviated, Measured: measured, Detail: fmt.Sprintf("connected in %s, want at most %s", took.Round(time.Microsecond), p.MaxLatency)}
	}
	return probeResult{Verdict: Held, Measured: measured, Detail: "ok"}
}

// containsRef reports whether s holds a ${...} reference, resolved only
// when the run starts.
func containsRef(s string) bool { return refPattern.MatchString(s) }
