package targets

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// maxKeyLen bounds a store key.
const maxKeyLen = 256

// maxList bounds the items of one list response.
const maxList = 1000

// store is the shop's database: JSON documents under string keys, with a
// service time per request and a connection-pool-like concurrency limit.
//
//	GET    /kv/{key}            200 the document, 404
//	PUT    /kv/{key}            204 (body: a JSON document), 400, 507 when full
//	DELETE /kv/{key}            204
//	GET    /kv?prefix=&limit=   200 {"items":[{"key":..,"value":..}],"truncated":bool}
//
// Every /kv request holds a pool slot for its service time; when the pool
// and its queue are full, or the wait is too long, it answers 503.
type store struct {
	cfg  StoreConfig
	pool *pool // nil when the pool is disabled
	st   *serviceTime

	mu   sync.RWMutex
	data map[string]json.RawMessage

	rejected    *prometheus.CounterVec
	serviceTime prometheus.Histogram
}

var _ app = (*store)(nil)

func newStore(cfg StoreConfig, seed int64, m *metrics) *store {
	s := &store{
		cfg:  cfg,
		st:   newServiceTime(cfg.ServiceTime, newLockedRand(seed, 1)),
		data: make(map[string]json.RawMessage, cfg.Products),
	}
	for _, p := range SeedProducts(cfg.Products) {
		b, _ := json.Marshal(p)
		s.data[productKeyPrefix+p.ID] = b
	}
	if cfg.Pool.Enabled {
		s.pool = newPool(cfg.Pool)
		m.gaugeFunc("faultline_store_pool_size", "Requests store serves at once.", func() float64 { return float64(cfg.Pool.Size) })
		m.gaugeFunc("faultline_store_pool_in_use", "Pool slots taken.", func() float64 { return float64(s.pool.InUse()) })
		m.gaugeFunc("faultline_store_pool_waiting", "Requests waiting for a pool slot.", func() float64 { return float64(s.pool.Waiting()) })
	}
	s.rejected = m.counterVec("faultline_store_pool_rejected_total", "Requests refused by the pool, by reason (queue_full, wait_timeout).", "reason")
	s.serviceTime = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "faultline_store_service_time_seconds",
		Help:    "Service time drawn for each key-value request.",
		Buckets: latencyBuckets,
	})
	m.wrapped.MustRegister(s.serviceTime)
	m.gaugeFunc("faultline_store_keys", "Keys held.", func() float64 {
		s.mu.RLock()
		defer s.mu.RUnlock()
		return float64(len(s.data))
	})
	return s
}

func (s *store) routes(r *router) {
	r.handle("GET /kv/{key}", "/kv/{key}", s.work(s.get))
	r.handle("PUT /kv/{key}", "/kv/{key}", s.work(s.put))
	r.handle("DELETE /kv/{key}", "/kv/{key}", s.work(s.delete))
	r.handle("GET /kv", "/kv", s.work(s.list))
}

func (s *store) ready() error { return nil }
func (s *store) close()       {}

// work runs h inside a pool slot after the drawn service time.
func (s *store) work(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.pool != nil {
			if err := s.pool.Acquire(r.Context()); err != nil {
				switch {
				case errors.Is(err, errPoolQueueFull):
					s.rejected.WithLabelValues("queue_full").Inc()
				case errors.Is(err, errPoolWait):
					s.rejected.WithLabelValues("wait_timeout").Inc()
				default:
					return // the client is gone
				}
				writeError(w, http.StatusServiceUnavailable, "store busy: "+err.Error())
				return
			}
			defer s.pool.Release()
		}
		d := s.st.Stall(time.Now()) + s.st.Sample()
		s.serviceTime.Observe(d.Seconds())
		if err := sleep(r.Context(), d); err != nil {
			return
		}
		h(w, r)
	}
}

func keyOf(w http.ResponseWriter, r *http.Request) (string, bool) {
	key := r.PathValue("key")
	if key == "" || len(key) > maxKeyLen {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("key must be 1 to %d bytes", maxKeyLen))
		return "", false
	}
	return key, true
}

func (s *store) get(w http.ResponseWriter, r *http.Request) {
	key, ok := keyOf(w, r)
	if !ok {
		return
	}
	s.mu.RLock()
	v, found := s.data[key]
	s.mu.RUnlock()
	if !found {
		writeError(w, http.StatusNotFound, "no such key")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(v)
}

func (s *store) put(w http.ResponseWriter, r *http.Request) {
	key, ok := keyOf(w, r)
	if !ok {
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !json.Valid(body) {
		writeError(w, http.StatusBadRequest, "value is not a JSON document")
		return
	}
	s.mu.Lock()
	_, exists := s.data[key]
	if !exists && len(s.data) >= s.cfg.MaxKeys {
		s.mu.Unlock()
		writeError(w, http.StatusInsufficientStorage, fmt.Sprintf("store full (%d keys)", s.cfg.MaxKeys))
		return
	}
	s.data[key] = json.RawMessage(body)
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *store) delete(w http.ResponseWriter, r *http.Request) {
	key, ok := keyOf(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	delete(s.data, key)
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// kvItem is one entry of a list response.
type kvItem struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

type kvList struct {
	Items     []kvItem `json:"items"`
	Truncated bool     `json:"truncated"`
}

func (s *store) list(w http.ResponseWriter, r *http.Request) {
	prefix := r.URL.Query().Get("prefix")
	limit := maxList
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxList {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit must be 1 to %d", maxList))
			return
		}
		limit = n
	}
	s.mu.RLock()
	keys := make([]string, 0, 64)
	for k := range s.data {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := kvList{Items: []kvItem{}}
	if len(keys) > limit {
		keys, out.Truncated = keys[:limit], true
	}
	for _, k := range keys {
		out.Items = append(out.Items, kvItem{Key: k, Value: s.data[k]})
	}
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, out)
}
