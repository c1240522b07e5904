package chaos

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

func ptr[T any](v T) *T { return &v }

// minRoundTrip is the fastest of n round trips, each on a new connection.
func minRoundTrip(t *testing.T, addr string, n int) time.Duration {
	t.Helper()
	best := time.Duration(1<<63 - 1)
	for range n {
		d, err := roundTrip(addr, 5*time.Second)
		if err != nil {
			t.Fatalf("round trip through %s: %v", addr, err)
		}
		best = min(best, d)
	}
	return best
}

func TestToxicsAgainstEmbeddedAndExternalServers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		spec Spec
		// check runs while the fault is injected; before is a connection
		// opened before injection, proxyAddr the proxy's listen address.
		check func(t *testing.T, proxyAddr string, before net.Conn)
	}{
		{
			name: "latency adds 200ms to the round trip",
			spec: Spec{Kind: "latency", Latency: 200 * time.Millisecond},
			check: func(t *testing.T, addr string, _ net.Conn) {
				// The baseline was measured before injection (see below);
				// it is passed through the test's closure.
			},
		},
		{
			name: "timeout blackholes",
			spec: Spec{Kind: "timeout"},
			check: func(t *testing.T, addr string, _ net.Conn) {
				_, err := roundTrip(addr, 500*time.Millisecond)
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					t.Fatalf("round trip through a blackhole: got %v, want a timeout", err)
				}
			},
		},
		{
			name: "reset_peer resets",
			spec: Spec{Kind: "reset_peer"},
			check: func(t *testing.T, addr string, _ net.Conn) {
				_, err := roundTrip(addr, 5*time.Second)
				if !errors.Is(err, syscall.ECONNRESET) {
					t.Fatalf("round trip: got %v, want connection reset", err)
				}
			},
		},
		{
			name: "bandwidth holds throughput within 10% of the limit",
			spec: Spec{Kind: "bandwidth", Rate: 500_000},
			check: func(t *testing.T, addr string, _ net.Conn) {
				const size = 1_000_000
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				start := time.Now()
				if _, err := io.WriteString(c, "bytes 1000000\n"); err != nil {
					t.Fatal(err)
				}
				if _, err := io.CopyN(io.Discard, c, size); err != nil {
					t.Fatal(err)
				}
				rate := size / time.Since(start).Seconds()
				t.Logf("throughput %.0f B/s, limit 500000 B/s", rate)
				if rate < 450_000 || rate > 550_000 {
					t.Fatalf("throughput %.0f B/s, want 500000 B/s ±10%%", rate)
				}
			},
		},
		{
			name: "down refuses connections and closes live ones",
			spec: Spec{Kind: "down"},
			check: func(t *testing.T, addr string, before net.Conn) {
				before.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := before.Read(make([]byte, 1)); err == nil {
					t.Fatal("a connection open before down still reads")
				}
				_, err := net.DialTimeout("tcp", addr, 2*time.Second)
				if !errors.Is(err, syscall.ECONNREFUSED) {
					t.Fatalf("dial a proxy that is down: got %v, want connection refused", err)
				}
			},
		},
		{
			name: "limit_data closes after the bytes",
			spec: Spec{Kind: "limit_data", Bytes: 10},
			check: func(t *testing.T, addr string, _ net.Conn) {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				io.WriteString(c, "bytes 100\n")
				got, err := io.ReadAll(c)
				if len(got) != 10 {
					t.Fatalf("read %d bytes (%v), want 10 then the end", len(got), err)
				}
			},
		},
		{
			name: "slicer still delivers everything",
			spec: Spec{Kind: "slicer", AverageSize: 2, SizeVariation: 1, Delay: 100 * time.Microsecond},
			check: func(t *testing.T, addr string, _ net.Conn) {
				if _, err := roundTrip(addr, 5*time.Second); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "slow_close delays the close",
			spec: Spec{Kind: "slow_close", Delay: 300 * time.Millisecond, Stream: "downstream"},
			check: func(t *testing.T, addr string, _ net.Conn) {
				if _, err := roundTrip(addr, 5*time.Second); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name:  "upstream latency with toxicity",
			spec:  Spec{Kind: "latency", Latency: 50 * time.Millisecond, Jitter: 10 * time.Millisecond, Stream: "upstream", Toxicity: ptr(0.5)},
			check: func(t *testing.T, addr string, _ net.Conn) {},
		},
	}
	for _, srv := range toxiproxyServers(t) {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					ctx := context.Background()
					name, client, p := proxyToBackend(t, srv.url)
					baseline := minRoundTrip(t, p.Listen, 5)

					before, err := net.Dial("tcp", p.Listen)
					if err != nil {
						t.Fatal(err)
					}
					defer before.Close()
					// Make sure the connection is through before the fault.
					io.WriteString(before, "hello\n")
					before.SetDeadline(time.Now().Add(5 * time.Second))
					if _, err := bufio.NewReader(before).ReadString('\n'); err != nil {
						t.Fatal(err)
					}

					ledger := testLedger(t)
					s := NewSession(ledger, &Env{ToxiproxyURL: srv.url, ToxiproxyEmbedded: srv.embedded})
					spec := tc.spec
					spec.Proxy = name
					f, err := New(spec)
					if err != nil {
						t.Fatal(err)
					}
					e, err := s.Inject(ctx, f)
					if err != nil {
						t.Fatal(err)
					}
					if active, _ := ledger.Active(); len(active) != 1 {
						t.Fatalf("ledger lists %d active faults while injected, want 1", len(active))
					}
					if spec.Kind == "latency" && spec.Toxicity == nil {
						during := minRoundTrip(t, p.Listen, 3)
						added := during - baseline
						t.Logf("round trip %s before, %s with the toxic: +%s", baseline, during, added)
						if added < 175*time.Millisecond || added > 225*time.Millisecond {
							t.Fatalf("latency 200ms added %s to the round trip, want 200ms ±25ms", added)
						}
					}
					if spec.Kind != "down" {
						toxics, err := p.Toxics()
						if err != nil || len(toxics) != 1 {
							t.Fatalf("toxics while injected: %v, %v; want one", toxics, err)
						}
					}
					tc.check(t, p.Listen, before)

					if err := s.Revert(ctx, e); err != nil {
						t.Fatal(err)
					}
					if err := s.Revert(ctx, e); err != nil {
						t.Fatalf("second revert: %v", err)
					}
					got, err := client.Proxy(name)
					if err != nil {
						t.Fatal(err)
					}
					if len(got.ActiveToxics) != 0 || !got.Enabled {
						t.Fatalf("after revert: toxics %v, enabled %v; want none, enabled", got.ActiveToxics, got.Enabled)
					}
					if after := minRoundTrip(t, p.Listen, 3); after > baseline+100*time.Millisecond {
						t.Fatalf("round trip after revert %s, before %s", after, baseline)
					}
					if active, _ := ledger.Active(); len(active) != 0 {
						t.Fatalf("ledger lists %d active faults after revert", len(active))
					}
				})
			}
		})
	}
}

func TestFaultCreatesProxyAndDeletesItOnRevert(t *testing.T) {
	t.Parallel()
	for _, srv := range toxiproxyServers(t) {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			be := startBackend(t)
			name := uniqueName(t)
			s := NewSession(testLedger(t), &Env{ToxiproxyURL: srv.url, ToxiproxyEmbedded: srv.embedded})
			f, err := New(Spec{Kind: "latency", Proxy: name, Upstream: be.addr(), Latency: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			e, err := s.Inject(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			inj := e.Injection.(*toxicInjection)
			if strings.HasSuffix(inj.Proxy.Listen, ":0") {
				t.Fatalf("listen address not resolved after creation: %s", inj.Proxy.Listen)
			}
			if _, err := roundTrip(inj.Proxy.Listen, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			if err := s.RevertAll(ctx); err != nil {
				t.Fatal(err)
			}
			proxies, err := toxiproxy.NewClient(srv.url).Proxies()
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := proxies[name]; ok {
				t.Fatalf("proxy %s still exists after revert", name)
			}
		})
	}
}

func TestToxiproxyBadInput(t *testing.T) {
	t.Parallel()
	emb, err := StartToxiproxy(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emb.Close() })
	if _, err := emb.Client().CreateProxy("db", "127.0.0.1:0", "127.0.0.1:9"); err != nil {
		t.Fatal(err)
	}
	dead, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://127.0.0.1:" + itoa(dead)
	cases := []struct {
		name string
		url  string
		spec Spec
		want []string
	}{
		{"unknown proxy", emb.URL(), Spec{Kind: "latency", Proxy: "cache", Latency: time.Second}, []string{`proxy "cache" not found`, emb.URL(), "proxies there: db"}},
		{"unreachable server", deadURL, Spec{Kind: "latency", Proxy: "db", Latency: time.Second}, []string{"toxiproxy unreachable at " + deadURL}},
		{"existing proxy, other upstream", emb.URL(), Spec{Kind: "down", Proxy: "db", Upstream: "127.0.0.1:10"}, []string{"with upstream 127.0.0.1:9, not 127.0.0.1:10"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ledger := testLedger(t)
			s := NewSession(ledger, &Env{ToxiproxyURL: tc.url})
			f, err := New(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Inject(context.Background(), f)
			if err == nil {
				t.Fatal("inject succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if code := exitOf(err); code != 5 {
				t.Errorf("exit code %d, want 5", code)
			}
			if active, _ := ledger.Active(); len(active) != 0 {
				t.Errorf("ledger lists %d faults; nothing should be recorded", len(active))
			}
		})
	}
	t.Cleanup(func() {
		proxies, err := emb.Client().Proxies()
		if err != nil {
			t.Fatal(err)
		}
		if n := len(proxies["db"].ActiveToxics); n != 0 {
			t.Fatalf("%d toxics on db, want none", n)
		}
	})
}

// TestRunnerProxiesAreRecorded creates a proxy as the experiment runner
// does, faults it, and checks that RevertAll undoes both, newest first.
func TestRunnerProxiesAreRecorded(t *testing.T) {
	t.Parallel()
	for _, srv := range toxiproxyServers(t) {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			be := startBackend(t)
			name := uniqueName(t)
			ledger := testLedger(t)
			s := NewSession(ledger, &Env{ToxiproxyURL: srv.url, ToxiproxyEmbedded: srv.embedded})
			pf, err := NewProxy(name, "", be.addr())
			if err != nil {
				t.Fatal(err)
			}
			pe, err := s.Inject(ctx, pf)
			if err != nil {
				t.Fatal(err)
			}
			listen, ok := ProxyListen(pe)
			if !ok || strings.HasSuffix(listen, ":0") {
				t.Fatalf("proxy listens on %q", listen)
			}
			f, _ := New(Spec{Kind: "latency", Proxy: name, Latency: 100 * time.Millisecond})
			if _, err := s.Inject(ctx, f); err != nil {
				t.Fatal(err)
			}
			if d := minRoundTrip(t, listen, 1); d < 100*time.Millisecond {
				t.Fatalf("round trip %s through the faulted proxy", d)
			}
			if err := s.RevertAll(ctx); err != nil {
				t.Fatal(err)
			}
			proxies, err := toxiproxy.NewClient(srv.url).Proxies()
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := proxies[name]; ok {
				t.Fatal("the runner's proxy survived RevertAll")
			}
			if active, _ := ledger.Active(); len(active) != 0 {
				t.Fatalf("%d active", len(active))
			}
			if errs := (Spec{Kind: "proxy", Proxy: name, Upstream: be.addr()}).Validate(); len(errs) != 1 || !strings.Contains(errs[0].Error(), "unknown fault kind") {
				t.Fatalf("a proxy is not a fault kind users may ask for: %v", errs)
			}
		})
	}
}
