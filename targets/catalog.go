package targets

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// CacheHeader tells how the catalog answered: HIT, MISS, STALE (store failed
// and an expired entry was served) or BYPASS (the cache is off).
const CacheHeader = "X-Cache"

// catalog serves product reads through a cache-aside LRU in front of store.
//
//	GET /products        200 {"products":[...]}
//	GET /products/{id}   200 the product, 404
//
// On a miss it reads store and fills the cache. When store fails (error,
// timeout, 5xx) it serves the expired entry if it has one and may
// (X-Cache: STALE, plus a Warning header), and otherwise answers 503.
type catalog struct {
	cfg   CatalogConfig
	store *upstream
	cache *lru[string, []byte] // nil when the cache is off

	hits, misses, stale prometheus.Counter
	storeErrors         prometheus.Counter
	evictions           prometheus.Counter
}

var _ app = (*catalog)(nil)

func newCatalog(cfg CatalogConfig, store *upstream, m *metrics) *catalog {
	c := &catalog{cfg: cfg, store: store}
	c.hits = m.counter("faultline_catalog_cache_hits_total", "Reads answered from a fresh cache entry.")
	c.misses = m.counter("faultline_catalog_cache_misses_total", "Reads that went to store (no entry, or an expired one).")
	c.stale = m.counter("faultline_catalog_stale_served_total", "Reads answered from an expired entry because store failed.")
	c.storeErrors = m.counter("faultline_catalog_store_errors_total", "Reads of store that failed (error, timeout or 5xx).")
	c.evictions = m.counter("faultline_catalog_cache_evictions_total", "Entries evicted because the cache was full.")
	if cfg.Cache.Enabled {
		c.cache = newLRU[string, []byte](cfg.Cache.MaxEntries)
		c.cache.onEvict = c.evictions.Inc
		m.gaugeFunc("faultline_catalog_cache_entries", "Entries in the cache, stale ones included.", func() float64 { return float64(c.cache.Len()) })
	}
	return c
}

func (c *catalog) routes(r *router) {
	r.handle("GET /products", "/products", func(w http.ResponseWriter, r *http.Request) {
		c.read(w, r, "list", "/kv?prefix="+productKeyPrefix, productList)
	})
	r.handle("GET /products/{id}", "/products/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if id == "" || len(id) > 64 {
			writeError(w, http.StatusBadRequest, "bad product id")
			return
		}
		c.read(w, r, productKeyPrefix+id, "/kv/"+productKeyPrefix+id, nil)
	})
}

func (c *catalog) ready() error { return nil }
func (c *catalog) close()       { c.store.close() }

// read answers from the cache or store; transform turns store's answer into
// the catalog's (nil keeps it).
func (c *catalog) read(w http.ResponseWriter, r *http.Request, key, storePath string, transform func([]byte) ([]byte, error)) {
	now := time.Now()
	var cached []byte
	var haveStale bool
	if c.cache != nil {
		v, fresh, ok := c.cache.Get(key, now)
		if ok && fresh {
			c.hits.Inc()
			writeBody(w, http.StatusOK, v, "HIT")
			return
		}
		cached, haveStale = v, ok
		c.misses.Inc()
	}
	code, body, err := c.store.call(r.Context(), http.MethodGet, storePath, nil, r.Header.Get(RequestIDHeader), c.cfg.StoreTimeout)
	if err == nil && code == http.StatusOK && transform != nil {
		body, err = transform(body)
	}
	switch {
	case err == nil && code == http.StatusOK:
		if c.cache != nil {
			c.cache.Put(key, body, time.Now(), c.cfg.Cache.TTL, c.staleKeep())
		}
		writeBody(w, http.StatusOK, body, c.missLabel())
		return
	case err == nil && code == http.StatusNotFound:
		writeError(w, http.StatusNotFound, "no such product")
		return
	}
	if r.Context().Err() != nil {
		return // the client is gone; there is no one to answer
	}
	c.storeErrors.Inc()
	if haveStale && c.cfg.Cache.ServeStale {
		c.stale.Inc()
		w.Header().Set("Warning", `110 - "Response is Stale"`)
		writeBody(w, http.StatusOK, cached, "STALE")
		return
	}
	if err == nil {
		err = fmt.Errorf("store answered %d", code)
	}
	writeError(w, http.StatusServiceUnavailable, "store unavailable: "+err.Error())
}

// staleKeep is how long an expired entry is kept for serving stale.
func (c *catalog) staleKeep() time.Duration {
	if !c.cfg.Cache.ServeStale {
		return 0
	}
	return c.cfg.Cache.MaxStale
}

func (c *catalog) missLabel() string {
	if c.cache == nil {
		return "BYPASS"
	}
	return "MISS"
}

func writeBody(w http.ResponseWriter, code int, body []byte, cache string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(CacheHeader, cache)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	w.Write(body)
}

// productList turns store's list of product documents into the catalog's
// {"products":[...]}.
func productList(body []byte) ([]byte, error) {
	var l kvList
	if err := json.Unmarshal(body, &l); err != nil {
		return nil, fmt.Errorf("decode store list: %w", err)
	}
	products := make([]json.RawMessage, len(l.Items))
	for i, it := range l.Items {
		products[i] = it.Value
	}
	return json.Marshal(map[string]any{"products": products})
}
