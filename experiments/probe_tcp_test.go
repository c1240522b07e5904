package experiments

import (
	"context"
	"net"
	"strings"
	"testing"
)

func TestTCPProbe(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	open := ln.Addr().String()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := closed.Addr().String()
	closed.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	defer func() { ln.Close(); <-done }()

	identity := func(s string) string { return s }
	for _, tc := range []struct {
		addr string
		want Verdict
	}{{open, Held}, {refused, Deviated}} {
		p := &Probe{Spec: ProbeSpec{Kind: "tcp", Check: &TCPProbe{Address: tc.addr}}}
		if got := runProbe(context.Background(), p, nil, identity, nil); got.Verdict != tc.want {
			t.Errorf("tcp %s: %+v, want %s", tc.addr, got, tc.want)
		}
	}
}

func TestTCPProbeValidates(t *testing.T) {
	t.Parallel()
	const base = "name: x\nload:\n  rate: 10/s\n  requests:\n    - url: http://127.0.0.1:1/\nphases:\n  - name: a\n    duration: 5s\nsteady_state:\n  probes:\n"
	for _, tc := range []struct{ probe, want string }{
		{"    - tcp: {address: '127.0.0.1:5432', max_latency: 50ms}\n", ""},
		{"    - tcp: {address: '${targets.db.addr}'}\n", "unknown target"},
		{"    - tcp: {timeout: 1s}\n", "x.yaml:11:12: steady_state.probes[0].tcp.address: a tcp probe needs address"},
		{"    - tcp: {address: localhost}\n", `x.yaml:11:22: steady_state.probes[0].tcp.address: "localhost": want HOST:PORT`},
		{"    - tcp: {address: '127.0.0.1:1', port: 1}\n", `unknown field "port"`},
		{"    - tcp: {address: '127.0.0.1:1'}\n      expect: value < 1\n", "a tcp probe checks its own fields"},
		{"    - tcp: {address: '127.0.0.1:1'}\n      http: {url: 'http://127.0.0.1:1/'}\n", "not both tcp and http"},
	} {
		_, err := Parse([]byte(base+tc.probe), "x.yaml", Options{})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.probe, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: %v, want %q", tc.probe, err, tc.want)
		}
	}
}
