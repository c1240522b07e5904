package targets

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config tunes the shop: one block per service, one sub-block per pattern.
// Every pattern has an Enabled switch. YAML fills it (the `targets:` block of
// an experiment, or a file given to `faultline targets up --config`), and so
// do `--set path=value` flags. Start from Defaults.
type Config struct {
	// Seed makes the random parts (store service times, retry jitter)
	// repeatable; 0 picks a new seed at every start.
	Seed int64 `yaml:"seed"`
	// Links tunes the connection pools of every link between services.
	Links   LinksConfig   `yaml:"links"`
	Gateway GatewayConfig `yaml:"gateway"`
	Catalog CatalogConfig `yaml:"catalog"`
	Orders  OrdersConfig  `yaml:"orders"`
	Store   StoreConfig   `yaml:"store"`
}

// LinksConfig tunes the HTTP clients each service calls its upstreams
// with (gateway->catalog, catalog->store, ...).
type LinksConfig struct {
	// MaxConnAge bounds how long a link reuses its pooled connections: every
	// MaxConnAge the link starts a new pool, so requests after that dial
	// afresh and the old pool's connections are closed. A Service moved
	// elsewhere (a service_* fault's proxy pod) then gets the link's
	// traffic within about MaxConnAge, where kept-alive connections would
	// keep reaching the old pods. 0 keeps connections until they idle for
	// 30s; on Kubernetes 0 means KubeMaxConnAge.
	MaxConnAge time.Duration `yaml:"max_conn_age"`
}

// KubeMaxConnAge is links.max_conn_age of a shop deployed on Kubernetes
// when the config leaves it 0.
const KubeMaxConnAge = time.Second

// GatewayConfig tunes the API gateway.
type GatewayConfig struct {
	RateLimit RateLimitConfig `yaml:"rate_limit"`
	Timeout   TimeoutConfig   `yaml:"timeout"`
	Retry     RetryConfig     `yaml:"retry"`
	Breaker   BreakerConfig   `yaml:"breaker"`
	Bulkhead  BulkheadConfig  `yaml:"bulkhead"`
}

// RateLimitConfig is a token bucket per client key.
type RateLimitConfig struct {
	Enabled bool `yaml:"enabled"`
	// Rate refills each client's bucket, such as 100/s.
	Rate Rate `yaml:"rate"`
	// Burst is the bucket's size: requests a quiet client may send at once.
	Burst int `yaml:"burst"`
	// KeyHeader names the request header carrying the client key; without
	// it the client's IP address is the key.
	KeyHeader string `yaml:"key_header"`
	// MaxClients bounds the buckets kept; the least recently seen client's
	// bucket is dropped beyond it (it comes back full).
	MaxClients int `yaml:"max_clients"`
}

// TimeoutConfig bounds each attempt of a call to an upstream.
type TimeoutConfig struct {
	Enabled  bool          `yaml:"enabled"`
	Duration time.Duration `yaml:"duration"`
}

// RetryConfig retries idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE,
// and POST with an Idempotency-Key) after connection errors, timeouts and
// 502/503/504, waiting an exponential backoff with full jitter (or, with
// NoJitter, exactly the ceiling: every client retries in lockstep).
type RetryConfig struct {
	Enabled bool `yaml:"enabled"`
	// MaxAttempts counts the first try.
	MaxAttempts int `yaml:"max_attempts"`
	// BaseDelay is the ceiling of the first wait; each retry multiplies it
	// by Multiplier up to MaxDelay, and the wait is uniform in [0, ceiling).
	BaseDelay  time.Duration `yaml:"base_delay"`
	MaxDelay   time.Duration `yaml:"max_delay"`
	Multiplier float64       `yaml:"multiplier"`
	// NoJitter waits the whole ceiling before each retry instead of a
	// uniform draw below it, so requests that failed together retry
	// together: the retry storm that jitter exists to prevent.
	NoJitter bool `yaml:"no_jitter"`
}

// BreakerConfig is a circuit breaker per upstream.
type BreakerConfig struct {
	Enabled bool `yaml:"enabled"`
	// Window is the sliding time window over which the failure rate is
	// measured (in ten buckets).
	Window time.Duration `yaml:"window"`
	// MinRequests is the number of calls in the window below which the
	// breaker never opens.
	MinRequests int `yaml:"min_requests"`
	// FailureRate in (0, 1] opens the breaker.
	FailureRate float64 `yaml:"failure_rate"`
	// CoolDown is how long the breaker stays open before letting probes
	// through (half-open).
	CoolDown time.Duration `yaml:"cool_down"`
	// HalfOpenRequests is the number of probes let through while half-open;
	// when all succeed the breaker closes, when one fails it opens again.
	HalfOpenRequests int `yaml:"half_open_requests"`
}

// BulkheadConfig bounds concurrent calls per upstream; beyond it the gateway
// answers 503 at once.
type BulkheadConfig struct {
	Enabled       bool `yaml:"enabled"`
	MaxConcurrent int  `yaml:"max_concurrent"`
}

// CatalogConfig tunes the catalog service.
type CatalogConfig struct {
	// StoreTimeout bounds each call to store.
	StoreTimeout time.Duration `yaml:"store_timeout"`
	Cache        CacheConfig   `yaml:"cache"`
}

// CacheConfig is the catalog's cache-aside LRU.
type CacheConfig struct {
	Enabled    bool          `yaml:"enabled"`
	MaxEntries int           `yaml:"max_entries"`
	TTL        time.Duration `yaml:"ttl"`
	// ServeStale answers from an expired entry, marked X-Cache: STALE, when
	// store fails; otherwise the catalog answers 503.
	ServeStale bool `yaml:"serve_stale"`
	// MaxStale is how long after expiry an entry may still be served stale.
	MaxStale time.Duration `yaml:"max_stale"`
}

// OrdersConfig tunes the orders service.
type OrdersConfig struct {
	// StoreTimeout bounds each call to store.
	StoreTimeout time.Duration     `yaml:"store_timeout"`
	Queue        QueueConfig       `yaml:"queue"`
	Idempotency  IdempotencyConfig `yaml:"idempotency"`
	// MaxRecent bounds the orders kept in memory after they are persisted,
	// so GET /orders/{id} does not need store for recent ones.
	MaxRecent int `yaml:"max_recent"`
}

// QueueConfig is the in-process queue between accepting an order and
// writing it to store. Disabled, orders are written synchronously.
type QueueConfig struct {
	Enabled  bool `yaml:"enabled"`
	Capacity int  `yaml:"capacity"`
	Workers  int  `yaml:"workers"`
	// MaxAttempts bounds the writes of one order to store; RetryDelay and
	// MaxDelay shape the backoff between them.
	MaxAttempts int           `yaml:"max_attempts"`
	RetryDelay  time.Duration `yaml:"retry_delay"`
	MaxDelay    time.Duration `yaml:"max_delay"`
}

// IdempotencyConfig keeps the order created for each Idempotency-Key.
type IdempotencyConfig struct {
	Enabled bool          `yaml:"enabled"`
	MaxKeys int           `yaml:"max_keys"`
	TTL     time.Duration `yaml:"ttl"`
}

// StoreConfig tunes the key-value store.
type StoreConfig struct {
	// Products is the number of seeded products, p001 upwards (at most 999).
	Products int `yaml:"products"`
	// MaxKeys bounds the keys held; writes of new keys beyond it get 507.
	MaxKeys     int               `yaml:"max_keys"`
	ServiceTime ServiceTimeConfig `yaml:"service_time"`
	Pool        PoolConfig        `yaml:"pool"`
}

// ServiceTimeConfig is the time store spends on each key-value request.
type ServiceTimeConfig struct {
	Enabled bool `yaml:"enabled"`
	// Distribution is lognormal (from Median and P99) or fixed (Fixed).
	Distribution string        `yaml:"distribution"`
	Median       time.Duration `yaml:"median"`
	P99          time.Duration `yaml:"p99"`
	Fixed        time.Duration `yaml:"fixed"`
	// StallAfter and StallFor make one stop-the-world pause at a known
	// time: every request that arrives from StallAfter to
	// StallAfter+StallFor after store's first request is held until that
	// window ends, then served. A latency distribution fixed by the
	// schedule, for checking that a load tool measures from the intended
	// start (coordinated omission). StallFor 0: no stall.
	StallAfter time.Duration `yaml:"stall_after"`
	StallFor   time.Duration `yaml:"stall_for"`
}

// PoolConfig limits the requests store serves at once, like a connection
// pool; requests beyond Size wait in a queue of MaxQueue for at most MaxWait,
// then get 503.
type PoolConfig struct {
	Enabled  bool          `yaml:"enabled"`
	Size     int           `yaml:"size"`
	MaxQueue int           `yaml:"max_queue"`
	MaxWait  time.Duration `yaml:"max_wait"`
}

// Service-time distributions.
const (
	DistLogNormal = "lognormal"
	DistFixed     = "fixed"
)

// Defaults returns the documented defaults: every pattern on, limits
// generous enough for a laptop load test of a few thousand requests per
// second, and failures detected within seconds.
func Defaults() Config {
	return Config{
		Gateway: GatewayConfig{
			RateLimit: RateLimitConfig{Enabled: true, Rate: 1000, Burst: 200, KeyHeader: "X-Client-Key", MaxClients: 10000},
			Timeout:   TimeoutConfig{Enabled: true, Duration: 2 * time.Second},
			Retry:     RetryConfig{Enabled: true, MaxAttempts: 3, BaseDelay: 20 * time.Millisecond, MaxDelay: 500 * time.Millisecond, Multiplier: 2},
			Breaker:   BreakerConfig{Enabled: true, Window: 10 * time.Second, MinRequests: 20, FailureRate: 0.5, CoolDown: 5 * time.Second, HalfOpenRequests: 3},
			Bulkhead:  BulkheadConfig{Enabled: true, MaxConcurrent: 100},
		},
		Catalog: CatalogConfig{
			StoreTimeout: time.Second,
			Cache:        CacheConfig{Enabled: true, MaxEntries: 1000, TTL: 10 * time.Second, ServeStale: true, MaxStale: 10 * time.Minute},
		},
		Orders: OrdersConfig{
			StoreTimeout: time.Second,
			Queue:        QueueConfig{Enabled: true, Capacity: 1000, Workers: 4, MaxAttempts: 5, RetryDelay: 50 * time.Millisecond, MaxDelay: time.Second},
			Idempotency:  IdempotencyConfig{Enabled: true, MaxKeys: 100000, TTL: 24 * time.Hour},
			MaxRecent:    10000,
		},
		Store: StoreConfig{
			Products:    100,
			MaxKeys:     200000,
			ServiceTime: ServiceTimeConfig{Enabled: true, Distribution: DistLogNormal, Median: 2 * time.Millisecond, P99: 20 * time.Millisecond, Fixed: 5 * time.Millisecond},
			Pool:        PoolConfig{Enabled: true, Size: 32, MaxQueue: 256, MaxWait: 500 * time.Millisecond},
		},
	}
}

// FieldError is one problem with one configuration field, named by its YAML
// path (targets.store.service_time.p99).
type FieldError struct {
	Path    string
	Message string
}

func (f FieldError) Error() string { return f.Path + ": " + f.Message }

// ConfigError lists every problem Validate found.
type ConfigError struct {
	Problems []FieldError
}

func (e *ConfigError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return strings.Join(msgs, "; ")
}

// ConfigPrefix is the root of every field path in errors: the name of the
// block in an experiment file.
const ConfigPrefix = "targets"

type problems []FieldError

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, FieldError{Path: ConfigPrefix + "." + path, Message: fmt.Sprintf(format, args...)})
}

func (p *problems) positive(path string, v int) {
	if v <= 0 {
		p.add(path, "must be > 0 (got %d)", v)
	}
}

func (p *problems) nonNegative(path string, v int) {
	if v < 0 {
		p.add(path, "must be >= 0 (got %d)", v)
	}
}

func (p *problems) positiveDuration(path string, d time.Duration) {
	if d <= 0 {
		p.add(path, "must be > 0 (got %s)", d)
	}
}

func (p *problems) nonNegativeDuration(path string, d time.Duration) {
	if d < 0 {
		p.add(path, "must be >= 0 (got %s)", d)
	}
}

// Validate returns a *ConfigError naming every field that is out of range or
// contradicts another, or nil. Settings of a disabled pattern are checked
// too, so that turning it on later cannot surprise.
func (c Config) Validate() error {
	var p problems
	// In the order of Config's fields, so the problems are listed in the
	// order of the document.
	p.nonNegativeDuration("links.max_conn_age", c.Links.MaxConnAge)
	p.gateway(c.Gateway)
	p.catalog(c.Catalog)
	p.orders(c.Orders)
	p.store(c.Store)
	if len(p) == 0 {
		return nil
	}
	return &ConfigError{Problems: p}
}

// gateway adds the problems of the gateway's settings.
func (p *problems) gateway(g GatewayConfig) {
	if g.RateLimit.Rate <= 0 {
		p.add("gateway.rate_limit.rate", "must be > 0/s (got %s)", g.RateLimit.Rate)
	}
	p.positive("gateway.rate_limit.burst", g.RateLimit.Burst)
	p.positive("gateway.rate_limit.max_clients", g.RateLimit.MaxClients)
	if strings.TrimSpace(g.RateLimit.KeyHeader) != g.RateLimit.KeyHeader || strings.ContainsAny(g.RateLimit.KeyHeader, " :\t") {
		p.add("gateway.rate_limit.key_header", "%q is not a header name", g.RateLimit.KeyHeader)
	}
	p.positiveDuration("gateway.timeout.duration", g.Timeout.Duration)
	p.positive("gateway.retry.max_attempts", g.Retry.MaxAttempts)
	p.nonNegativeDuration("gateway.retry.base_delay", g.Retry.BaseDelay)
	p.nonNegativeDuration("gateway.retry.max_delay", g.Retry.MaxDelay)
	if g.Retry.MaxDelay < g.Retry.BaseDelay && g.Retry.MaxDelay >= 0 {
		p.add("gateway.retry.max_delay", "must be >= base_delay (%s)", g.Retry.BaseDelay)
	}
	if g.Retry.Multiplier < 1 {
		p.add("gateway.retry.multiplier", "must be >= 1 (got %g)", g.Retry.Multiplier)
	}
	p.positiveDuration("gateway.breaker.window", g.Breaker.Window)
	if g.Breaker.Window > 0 && g.Breaker.Window < 10*time.Millisecond {
		p.add("gateway.breaker.window", "must be >= 10ms (got %s)", g.Breaker.Window)
	}
	p.positive("gateway.breaker.min_requests", g.Breaker.MinRequests)
	if !(g.Breaker.FailureRate > 0 && g.Breaker.FailureRate <= 1) {
		p.add("gateway.breaker.failure_rate", "must be in (0, 1] (got %g)", g.Breaker.FailureRate)
	}
	p.positiveDuration("gateway.breaker.cool_down", g.Breaker.CoolDown)
	p.positive("gateway.breaker.half_open_requests", g.Breaker.HalfOpenRequests)
	p.positive("gateway.bulkhead.max_concurrent", g.Bulkhead.MaxConcurrent)
}

// catalog adds the problems of the catalog's settings.
func (p *problems) catalog(c CatalogConfig) {
	p.positiveDuration("catalog.store_timeout", c.StoreTimeout)
	p.positive("catalog.cache.max_entries", c.Cache.MaxEntries)
	p.positiveDuration("catalog.cache.ttl", c.Cache.TTL)
	p.nonNegativeDuration("catalog.cache.max_stale", c.Cache.MaxStale)
}

// orders adds the problems of the orders service's settings.
func (p *problems) orders(o OrdersConfig) {
	p.positiveDuration("orders.store_timeout", o.StoreTimeout)
	p.positive("orders.queue.capacity", o.Queue.Capacity)
	p.positive("orders.queue.workers", o.Queue.Workers)
	p.positive("orders.queue.max_attempts", o.Queue.MaxAttempts)
	p.nonNegativeDuration("orders.queue.retry_delay", o.Queue.RetryDelay)
	p.nonNegativeDuration("orders.queue.max_delay", o.Queue.MaxDelay)
	if o.Queue.MaxDelay < o.Queue.RetryDelay && o.Queue.MaxDelay >= 0 {
		p.add("orders.queue.max_delay", "must be >= retry_delay (%s)", o.Queue.RetryDelay)
	}
	p.positive("orders.idempotency.max_keys", o.Idempotency.MaxKeys)
	p.positiveDuration("orders.idempotency.ttl", o.Idempotency.TTL)
	p.positive("orders.max_recent", o.MaxRecent)
}

// store adds the problems of the store's settings.
func (p *problems) store(s StoreConfig) {
	if s.Products < 0 || s.Products > maxProducts {
		p.add("store.products", "must be in [0, %d] (got %d)", maxProducts, s.Products)
	}
	p.positive("store.max_keys", s.MaxKeys)
	if s.MaxKeys > 0 && s.Products > s.MaxKeys {
		p.add("store.max_keys", "must be >= products (%d)", s.Products)
	}
	st := s.ServiceTime
	switch st.Distribution {
	case DistLogNormal:
		p.positiveDuration("store.service_time.median", st.Median)
		p.positiveDuration("store.service_time.p99", st.P99)
		if st.P99 < st.Median {
			p.add("store.service_time.p99", "must be >= median (%s)", st.Median)
		}
	case DistFixed:
		p.nonNegativeDuration("store.service_time.fixed", st.Fixed)
	default:
		p.add("store.service_time.distribution", "must be %s or %s (got %q)", DistLogNormal, DistFixed, st.Distribution)
	}
	p.nonNegativeDuration("store.service_time.stall_after", st.StallAfter)
	p.nonNegativeDuration("store.service_time.stall_for", st.StallFor)
	p.positive("store.pool.size", s.Pool.Size)
	p.nonNegative("store.pool.max_queue", s.Pool.MaxQueue)
	p.nonNegativeDuration("store.pool.max_wait", s.Pool.MaxWait)
}

// DecodeConfig reads a YAML document whose top level is a `targets:` block
// (the same block an experiment file has) over the defaults. Unknown fields
// are errors. An empty document yields the defaults. The result is
// validated.
func DecodeConfig(r io.Reader) (Config, error) {
	cfg := Defaults()
	if err := decodeInto(&cfg, r); err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// decodeInto decodes a document with a `targets:` block over cfg, strictly.
func decodeInto(cfg *Config, r io.Reader) error {
	doc := struct {
		Targets *Config `yaml:"targets"`
	}{Targets: cfg}
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// LoadConfig reads and validates a YAML file with a `targets:` block.
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("read targets config: %w", err)
	}
	defer f.Close()
	cfg, err := DecodeConfig(f)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// BuildConfig assembles a configuration the way the CLI does: the
// defaults, then inline YAML (a `targets:` block, as passed in ConfigEnv),
// then the YAML file at path, then each "path=value" of sets; the result is
// validated. Empty inline and path are skipped.
func BuildConfig(inline, path string, sets []string) (Config, error) {
	cfg := Defaults()
	if inline != "" {
		if err := decodeInto(&cfg, strings.NewReader(inline)); err != nil {
			return Config{}, fmt.Errorf("%s: %w", ConfigEnv, err)
		}
	}
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return Config{}, fmt.Errorf("read targets config: %w", err)
		}
		err = decodeInto(&cfg, f)
		f.Close()
		if err != nil {
			return Config{}, fmt.Errorf("%s: %w", path, err)
		}
	}
	for _, s := range sets {
		if err := cfg.Set(s); err != nil {
			return Config{}, err
		}
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// YAML renders the configuration as a document with a `targets:` block that
// DecodeConfig reads back; durations are written as "20ms".
func (c Config) YAML() ([]byte, error) {
	root := &yaml.Node{Kind: yaml.MappingNode}
	root.Content = append(root.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Value: ConfigPrefix},
		toNode(reflect.ValueOf(c)))
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var durationType = reflect.TypeOf(time.Duration(0))

// toNode turns a config struct into a YAML node, writing durations and rates
// in their human form.
func toNode(v reflect.Value) *yaml.Node {
	if v.Kind() == reflect.Struct {
		n := &yaml.Node{Kind: yaml.MappingNode}
		for i := 0; i < v.NumField(); i++ {
			name := yamlName(v.Type().Field(i))
			if name == "" {
				continue
			}
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: name}, toNode(v.Field(i)))
		}
		return n
	}
	var value string
	tag := "!!str"
	switch {
	case v.Type() == durationType:
		value = time.Duration(v.Int()).String()
	case v.Type() == reflect.TypeOf(Rate(0)):
		value = Rate(v.Float()).String()
	case v.Kind() == reflect.Bool:
		value, tag = fmt.Sprint(v.Bool()), ""
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
		value, tag = fmt.Sprint(v.Int()), ""
	case v.Kind() == reflect.Float64:
		// Plain, so that 2 reads back as a float without a !!float tag.
		value, tag = strconv.FormatFloat(v.Float(), 'g', -1, 64), ""
	default:
		value = fmt.Sprint(v.Interface())
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	return name
}

// Set assigns one field from a "path=value" string, as the --set flag does:
// the path is the field's YAML path (with or without the leading
// "targets."), the value is YAML ("20ms", "100/s", "false"). It does not
// validate the result; call Validate after the last Set.
func (c *Config) Set(assignment string) error {
	path, value, ok := strings.Cut(assignment, "=")
	if !ok {
		return fmt.Errorf("--set %q: want path=value", assignment)
	}
	path = strings.TrimPrefix(strings.TrimSpace(path), ConfigPrefix+".")
	v := reflect.ValueOf(c).Elem()
	parts := strings.Split(path, ".")
	for i, part := range parts {
		if v.Kind() != reflect.Struct {
			return fmt.Errorf("--set %s: %s is not a block", path, strings.Join(parts[:i], "."))
		}
		f, found := fieldByYAMLName(v, part)
		if !found {
			return fmt.Errorf("--set %s: unknown field %q (known: %s)", path, part, strings.Join(yamlNames(v.Type()), ", "))
		}
		v = f
	}
	if v.Kind() == reflect.Struct {
		return fmt.Errorf("--set %s: is a block; name one of its fields: %s", path, strings.Join(yamlNames(v.Type()), ", "))
	}
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(value), &node); err != nil {
		return fmt.Errorf("--set %s: %w", path, err)
	}
	if len(node.Content) == 0 || node.Content[0].Kind != yaml.ScalarNode {
		return fmt.Errorf("--set %s: value %q is not a scalar", path, value)
	}
	target := reflect.New(v.Type())
	if err := node.Content[0].Decode(target.Interface()); err != nil {
		return fmt.Errorf("--set %s: %w", path, err)
	}
	v.Set(target.Elem())
	return nil
}

func fieldByYAMLName(v reflect.Value, name string) (reflect.Value, bool) {
	for i := 0; i < v.NumField(); i++ {
		if yamlName(v.Type().Field(i)) == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

func yamlNames(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if n := yamlName(t.Field(i)); n != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}
