package targets

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultsValid(t *testing.T) {
	t.Parallel()
	if err := Defaults().Validate(); err != nil {
		t.Fatalf("Defaults().Validate() = %v", err)
	}
}

func TestValidateNamesFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []string
	}{
		{"p99 below median", func(c *Config) {
			c.Store.ServiceTime.Median = 20 * time.Millisecond
			c.Store.ServiceTime.P99 = 5 * time.Millisecond
		},
			[]string{"targets.store.service_time.p99: must be >= median (20ms)"}},
		{"negative cache size", func(c *Config) { c.Catalog.Cache.MaxEntries = -5 },
			[]string{"targets.catalog.cache.max_entries: must be > 0 (got -5)"}},
		{"negative pool queue", func(c *Config) { c.Store.Pool.MaxQueue = -1 },
			[]string{"targets.store.pool.max_queue: must be >= 0 (got -1)"}},
		{"failure rate", func(c *Config) { c.Gateway.Breaker.FailureRate = 1.5 },
			[]string{"targets.gateway.breaker.failure_rate: must be in (0, 1] (got 1.5)"}},
		{"zero rate", func(c *Config) { c.Gateway.RateLimit.Rate = 0 },
			[]string{"targets.gateway.rate_limit.rate: must be > 0/s"}},
		{"distribution", func(c *Config) { c.Store.ServiceTime.Distribution = "normal" },
			[]string{`targets.store.service_time.distribution: must be lognormal or fixed (got "normal")`}},
		{"retry delays", func(c *Config) { c.Gateway.Retry.MaxDelay = time.Millisecond },
			[]string{"targets.gateway.retry.max_delay: must be >= base_delay (20ms)"}},
		{"too many products", func(c *Config) { c.Store.Products = 1000 },
			[]string{"targets.store.products: must be in [0, 999] (got 1000)"}},
		{"every problem at once", func(c *Config) {
			c.Orders.Queue.Workers = 0
			c.Gateway.Bulkhead.MaxConcurrent = -1
			c.Store.Pool.Size = 0
		}, []string{"targets.gateway.bulkhead.max_concurrent", "targets.orders.queue.workers", "targets.store.pool.size"}},
		{"disabled patterns are checked too", func(c *Config) { c.Gateway.Breaker.Enabled = false; c.Gateway.Breaker.CoolDown = 0 },
			[]string{"targets.gateway.breaker.cool_down: must be > 0 (got 0s)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := Defaults()
			tt.mutate(&cfg)
			err := cfg.Validate()
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Validate() = %v, want a *ConfigError", err)
			}
			if len(ce.Problems) != len(tt.want) {
				t.Errorf("problems %v, want %d", ce.Problems, len(tt.want))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestDecodeConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		yaml    string
		check   func(Config) bool
		wantErr string
	}{
		{"empty is defaults", "", func(c Config) bool { return reflect.DeepEqual(c, Defaults()) }, ""},
		{"overrides keep the rest", "targets:\n  store:\n    service_time:\n      median: 5ms\n      p99: 80ms\n  gateway:\n    rate_limit:\n      rate: 50/s\n    breaker:\n      enabled: false\n",
			func(c Config) bool {
				d := Defaults()
				return c.Store.ServiceTime.Median == 5*time.Millisecond && c.Store.ServiceTime.P99 == 80*time.Millisecond &&
					c.Gateway.RateLimit.Rate == 50 && !c.Gateway.Breaker.Enabled && c.Gateway.Breaker.CoolDown == d.Gateway.Breaker.CoolDown &&
					c.Catalog == d.Catalog
			}, ""},
		{"unknown field", "targets:\n  store:\n    sevice_time: {}\n", nil, "field sevice_time not found"},
		{"unknown top level", "target:\n  store: {}\n", nil, "field target not found"},
		{"rate without unit", "targets:\n  gateway:\n    rate_limit:\n      rate: 100\n", nil, "want N/s"},
		{"bad duration", "targets:\n  catalog:\n    cache:\n      ttl: soon\n", nil, "soon"},
		{"invalid after decode", "targets:\n  store:\n    service_time:\n      median: 20ms\n      p99: 10ms\n", nil, "targets.store.service_time.p99: must be >= median (20ms)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := DecodeConfig(strings.NewReader(tt.yaml))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("DecodeConfig error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeConfig: %v", err)
			}
			if !tt.check(cfg) {
				t.Errorf("decoded %+v", cfg)
			}
		})
	}
}

func TestConfigYAMLRoundTrip(t *testing.T) {
	t.Parallel()
	cfg := Defaults()
	cfg.Seed = 7
	cfg.Gateway.RateLimit.Rate = 12.5
	cfg.Store.ServiceTime.Median = 1500 * time.Microsecond
	b, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"targets:\n", "      rate: 12.5/s\n", "      median: 1.5ms\n", "  seed: 7\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("YAML lacks %q:\n%s", want, b)
		}
	}
	back, err := DecodeConfig(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("decode own YAML: %v\n%s", err, b)
	}
	if !reflect.DeepEqual(back, cfg) {
		t.Errorf("round trip changed the config:\n%+v\n%+v", back, cfg)
	}
}

func TestConfigSet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		assign  string
		check   func(Config) bool
		wantErr string
	}{
		{"store.service_time.median=7ms", func(c Config) bool { return c.Store.ServiceTime.Median == 7*time.Millisecond }, ""},
		{"targets.gateway.rate_limit.rate=10/m", func(c Config) bool { return math6(c.Gateway.RateLimit.Rate.PerSecond()) == math6(10.0/60) }, ""},
		{"catalog.cache.enabled=false", func(c Config) bool { return !c.Catalog.Cache.Enabled }, ""},
		{"gateway.breaker.failure_rate=0.25", func(c Config) bool { return c.Gateway.Breaker.FailureRate == 0.25 }, ""},
		{"seed=99", func(c Config) bool { return c.Seed == 99 }, ""},
		{"store.pool.size=-3", func(c Config) bool { return c.Store.Pool.Size == -3 }, ""},
		{"store.service_time.mean=7ms", nil, `unknown field "mean"`},
		{"store.service_time=7ms", nil, "is a block"},
		{"store.products.x=1", nil, "is not a block"},
		{"store.products", nil, "want path=value"},
		{"store.products=many", nil, "store.products"},
		{"catalog.cache.ttl=[1]", nil, "not a scalar"},
	}
	for _, tt := range tests {
		t.Run(tt.assign, func(t *testing.T) {
			t.Parallel()
			cfg := Defaults()
			err := cfg.Set(tt.assign)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Set error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !tt.check(cfg) {
				t.Errorf("Set(%q) = %v, config %+v", tt.assign, err, cfg)
			}
		})
	}
}

func math6(f float64) int64 { return int64(f * 1e6) }

func TestBuildConfigOrder(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "shop.yaml")
	if err := os.WriteFile(file, []byte("targets:\n  catalog:\n    cache:\n      ttl: 3s\n      max_entries: 10\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	inline := "targets:\n  catalog:\n    cache:\n      ttl: 1s\n      max_stale: 1m\n"
	cfg, err := BuildConfig(inline, file, []string{"catalog.cache.max_entries=20"})
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Catalog.Cache
	if c.TTL != 3*time.Second || c.MaxStale != time.Minute || c.MaxEntries != 20 {
		t.Errorf("cache %+v: want ttl from the file, max_stale from inline, max_entries from --set", c)
	}
	if _, err := BuildConfig("", file, []string{"catalog.cache.max_entries=-1"}); err == nil || !strings.Contains(err.Error(), "targets.catalog.cache.max_entries") {
		t.Errorf("negative size via --set: %v", err)
	}
	if _, err := BuildConfig("", filepath.Join(t.TempDir(), "missing.yaml"), nil); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := BuildConfig("targets: [", "", nil); err == nil || !strings.Contains(err.Error(), ConfigEnv) {
		t.Errorf("bad inline YAML: %v", err)
	}
}

func TestParseRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    float64
		wantErr bool
	}{
		{"100/s", 100, false},
		{"6000/m", 100, false},
		{"3600/h", 1, false},
		{"1/ms", 1000, false},
		{"5/500ms", 10, false},
		{"2.5/2s", 1.25, false},
		{" 10 / s ", 10, false},
		{"0/s", 0, false},
		{"100", 0, true},
		{"-1/s", 0, true},
		{"x/s", 0, true},
		{"1/0s", 0, true},
		{"1/-1s", 0, true},
		{"1/fortnight", 0, true},
		{"NaN/s", 0, true},
		{"1e308/1ns", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseRate(tt.in)
		if (err != nil) != tt.wantErr || (err == nil && float64(got) != tt.want) {
			t.Errorf("ParseRate(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"100/s", "1/ms", "5/500ms", "3600/h", "x", "/", "1/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			return
		}
		if r < 0 || r.PerSecond() != r.PerSecond() {
			t.Fatalf("ParseRate(%q) = %v", s, r)
		}
		back, err := ParseRate(r.String())
		if err != nil || back != r {
			t.Fatalf("ParseRate(%q).String() = %q does not parse back: %v, %v", s, r.String(), back, err)
		}
	})
}

func FuzzDecodeConfig(f *testing.F) {
	b, _ := Defaults().YAML()
	f.Add(string(b))
	f.Add("targets:\n  store:\n    products: 3\n")
	f.Add("targets: {gateway: {rate_limit: {rate: 1/s}}}")
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := DecodeConfig(strings.NewReader(s))
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("DecodeConfig accepted an invalid config: %v", err)
		}
	})
}
