package targets

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// IdempotencyKeyHeader names the header that makes POST /orders safe to
// retry: every request with the same key gets the first one's answer.
const IdempotencyKeyHeader = "Idempotency-Key"

// ReplayedHeader is set on an answer replayed for an Idempotency-Key.
const ReplayedHeader = "Idempotent-Replayed"

// Order statuses.
const (
	OrderPending = "pending" // accepted, waiting in the queue
	OrderStored  = "stored"  // written to store
	OrderFailed  = "failed"  // the queue's worker gave up writing it
)

// Order is an order as the orders service returns it.
type Order struct {
	ID             string      `json:"id"`
	Items          []OrderItem `json:"items"`
	Status         string      `json:"status"`
	CreatedAt      time.Time   `json:"created_at"`
	IdempotencyKey string      `json:"idempotency_key,omitempty"`
}

// OrderItem is one line of an order.
type OrderItem struct {
	ProductID string `json:"product_id"`
	Quantity  int    `json:"quantity"`
}

// orderRequest is the body of POST /orders.
type orderRequest struct {
	Items []OrderItem `json:"items"`
}

const (
	maxOrderItems = 100
	maxQuantity   = 1000
	maxKeyHeader  = 255
)

// orders takes orders and writes them to store.
//
//	POST /orders        202 (queued) or 201 (queue off, written), 400, 422, 503
//	GET  /orders/{id}   200 the order, 404
//
// With the queue on, a POST is answered as soon as the order is in the
// in-process queue, and workers write it to store with retries; the queue
// lives in memory, so orders still in it when the service stops are lost.
// With an Idempotency-Key, a retried POST returns the first one's order
// (marked Idempotent-Replayed: true) and a different body under the same key
// gets 422.
type orders struct {
	cfg   OrdersConfig
	store *upstream
	log   *slog.Logger
	rnd   *lockedRand

	queue  chan *Order // nil when the queue is off
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	pending map[string]*Order // accepted and not yet written or given up
	recent  *lru[string, Order]

	idemMu sync.Mutex
	idem   *lru[string, *idemEntry] // nil when idempotency is off

	idPrefix string
	seq      atomic.Uint64

	created, replays, rejected prometheus.Counter
	persisted, storeWrites     *prometheus.CounterVec
}

var _ app = (*orders)(nil)

// idemEntry is the answer to the first request under an Idempotency-Key;
// done is closed once it is known.
type idemEntry struct {
	done   chan struct{}
	hash   [sha256.Size]byte
	code   int
	body   []byte
	failed bool // the first request failed; the key is free again
}

func newOrders(cfg OrdersConfig, store *upstream, seed int64, log *slog.Logger, m *metrics) *orders {
	var b [3]byte
	rand.Read(b[:])
	o := &orders{
		cfg:      cfg,
		store:    store,
		log:      log,
		rnd:      newLockedRand(seed, 2),
		pending:  map[string]*Order{},
		recent:   newLRU[string, Order](cfg.MaxRecent),
		idPrefix: "o-" + hex.EncodeToString(b[:]) + "-",
	}
	o.ctx, o.cancel = context.WithCancel(context.Background())
	o.created = m.counter("faultline_orders_created_total", "Orders accepted (replays not counted).")
	o.replays = m.counter("faultline_orders_idempotent_replays_total", "POSTs answered with an earlier order for the same Idempotency-Key.")
	o.rejected = m.counter("faultline_orders_queue_rejected_total", "Orders refused because the queue was full.")
	o.persisted = m.counterVec("faultline_orders_persisted_total", "Orders the queue's workers finished with, by outcome (stored, failed).", "outcome")
	o.storeWrites = m.counterVec("faultline_orders_store_writes_total", "Writes of orders to store, by outcome (ok, error).", "outcome")
	m.gaugeFunc("faultline_orders_pending", "Orders accepted and not yet written to store.", func() float64 {
		o.mu.Lock()
		defer o.mu.Unlock()
		return float64(len(o.pending))
	})
	if cfg.Idempotency.Enabled {
		o.idem = newLRU[string, *idemEntry](cfg.Idempotency.MaxKeys)
	}
	if cfg.Queue.Enabled {
		o.queue = make(chan *Order, cfg.Queue.Capacity)
		m.gaugeFunc("faultline_orders_queue_depth", "Orders waiting in the queue.", func() float64 { return float64(len(o.queue)) })
		m.gaugeFunc("faultline_orders_queue_capacity", "Size of the queue.", func() float64 { return float64(cfg.Queue.Capacity) })
		for range cfg.Queue.Workers {
			o.wg.Add(1)
			go o.worker()
		}
	}
	return o
}

func (o *orders) routes(r *router) {
	r.handle("POST /orders", "/orders", o.post)
	r.handle("GET /orders/{id}", "/orders/{id}", o.get)
}

func (o *orders) ready() error { return nil }

// close stops the workers and waits for them; orders still queued are lost.
func (o *orders) close() {
	o.cancel()
	o.wg.Wait()
	o.store.close()
}

func (o *orders) post(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	items, err := parseOrderRequest(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	key := r.Header.Get(IdempotencyKeyHeader)
	if len(key) > maxKeyHeader {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%s longer than %d bytes", IdempotencyKeyHeader, maxKeyHeader))
		return
	}
	if o.idem == nil || key == "" {
		code, resp := o.create(r, items, "")
		writeRaw(w, code, resp)
		return
	}
	hash := sha256.Sum256(body)
	for {
		o.idemMu.Lock()
		e, _, found := o.idem.Get(key, time.Now())
		if !found {
			e = &idemEntry{done: make(chan struct{}), hash: hash}
			o.idem.Put(key, e, time.Now(), o.cfg.Idempotency.TTL, 0)
			o.idemMu.Unlock()
			o.createOnce(w, r, e, key, items)
			return
		}
		o.idemMu.Unlock()
		select {
		case <-e.done:
		case <-r.Context().Done():
			return
		}
		if e.failed {
			continue // the first try failed and freed the key: try again
		}
		if e.hash != hash {
			writeError(w, http.StatusUnprocessableEntity, IdempotencyKeyHeader+" already used with a different request body")
			return
		}
		o.replays.Inc()
		w.Header().Set(ReplayedHeader, "true")
		writeRaw(w, e.code, e.body)
		return
	}
}

// createOnce creates the order for a new Idempotency-Key and publishes the
// answer to concurrent and later requests with the same key.
func (o *orders) createOnce(w http.ResponseWriter, r *http.Request, e *idemEntry, key string, items []OrderItem) {
	code, resp := o.create(r, items, key)
	if code >= 300 {
		e.failed = true
		o.idemMu.Lock()
		if cur, _, ok := o.idem.Get(key, time.Now()); ok && cur == e {
			o.idem.Delete(key)
		}
		o.idemMu.Unlock()
	} else {
		e.code, e.body = code, resp
	}
	close(e.done)
	writeRaw(w, code, resp)
}

// create makes a new order and queues it, or writes it when the queue is
// off. It returns the status code and JSON body to answer with.
func (o *orders) create(r *http.Request, items []OrderItem, key string) (int, []byte) {
	ord := &Order{
		ID:             fmt.Sprintf("%s%06d", o.idPrefix, o.seq.Add(1)),
		Items:          items,
		Status:         OrderPending,
		CreatedAt:      time.Now().UTC(),
		IdempotencyKey: key,
	}
	if o.queue != nil {
		o.mu.Lock()
		o.pending[ord.ID] = ord
		snapshot := *ord
		o.mu.Unlock()
		select {
		case o.queue <- ord:
		default:
			o.mu.Lock()
			delete(o.pending, ord.ID)
			o.mu.Unlock()
			o.rejected.Inc()
			return errorBody(http.StatusServiceUnavailable, "order queue full")
		}
		o.created.Inc()
		return jsonBody(http.StatusAccepted, snapshot)
	}
	ord.Status = OrderStored
	if err := o.write(r.Context(), ord, r.Header.Get(RequestIDHeader)); err != nil {
		return errorBody(http.StatusServiceUnavailable, "store unavailable: "+err.Error())
	}
	o.created.Inc()
	o.recent.Put(ord.ID, *ord, time.Now(), 0, 0)
	return jsonBody(http.StatusCreated, ord)
}

// write puts one order into store.
func (o *orders) write(ctx context.Context, ord *Order, requestID string) error {
	b, err := json.Marshal(ord)
	if err != nil {
		return err
	}
	code, body, err := o.store.call(ctx, http.MethodPut, "/kv/"+orderKeyPrefix+ord.ID, b, requestID, o.cfg.StoreTimeout)
	if err == nil && code != http.StatusNoContent && code != http.StatusOK {
		err = &storeStatusError{code: code, body: string(body)}
	}
	if err != nil {
		o.storeWrites.WithLabelValues("error").Inc()
		return err
	}
	o.storeWrites.WithLabelValues("ok").Inc()
	return nil
}

type storeStatusError struct {
	code int
	body string
}

func (e *storeStatusError) Error() string { return fmt.Sprintf("store answered %d", e.code) }

// retryable says whether another write may succeed where this one failed.
func (e *storeStatusError) retryable() bool {
	return e.code >= 500 && e.code != http.StatusInsufficientStorage
}

// worker writes queued orders to store until the service stops.
func (o *orders) worker() {
	defer o.wg.Done()
	b := backoff{Base: o.cfg.Queue.RetryDelay, Max: o.cfg.Queue.MaxDelay, Multiplier: 2}
	for {
		var ord *Order
		select {
		case <-o.ctx.Done():
			return
		case ord = <-o.queue:
		}
		o.mu.Lock()
		stored := *ord
		o.mu.Unlock()
		stored.Status = OrderStored
		err := retryLoop(o.ctx, o.cfg.Queue.MaxAttempts, b, o.rnd.Float64, func(int) (bool, error) {
			err := o.write(o.ctx, &stored, "")
			var se *storeStatusError
			if errors.As(err, &se) {
				return se.retryable(), err
			}
			return true, err
		})
		if o.ctx.Err() != nil {
			return
		}
		outcome := OrderStored
		if err != nil {
			outcome = OrderFailed
			o.log.Warn("order not stored", "order", ord.ID, "err", err)
		}
		o.mu.Lock()
		delete(o.pending, ord.ID)
		final := stored
		final.Status = outcome
		o.mu.Unlock()
		o.recent.Put(ord.ID, final, time.Now(), 0, 0)
		o.persisted.WithLabelValues(outcome).Inc()
	}
}

func (o *orders) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id == "" || len(id) > 64 {
		writeError(w, http.StatusBadRequest, "bad order id")
		return
	}
	o.mu.Lock()
	p, found := o.pending[id]
	var snapshot Order
	if found {
		snapshot = *p
	}
	o.mu.Unlock()
	if found {
		writeJSON(w, http.StatusOK, snapshot)
		return
	}
	if ord, _, ok := o.recent.Get(id, time.Now()); ok {
		writeJSON(w, http.StatusOK, ord)
		return
	}
	code, body, err := o.store.call(r.Context(), http.MethodGet, "/kv/"+orderKeyPrefix+id, nil, r.Header.Get(RequestIDHeader), o.cfg.StoreTimeout)
	switch {
	case err == nil && code == http.StatusOK:
		writeRaw(w, http.StatusOK, body)
	case err == nil && code == http.StatusNotFound:
		writeError(w, http.StatusNotFound, "no such order")
	case r.Context().Err() != nil:
	default:
		if err == nil {
			err = fmt.Errorf("store answered %d", code)
		}
		writeError(w, http.StatusServiceUnavailable, "store unavailable: "+err.Error())
	}
}

func parseOrderRequest(body []byte) ([]OrderItem, error) {
	var req orderRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("order: %w", err)
	}
	if len(req.Items) == 0 || len(req.Items) > maxOrderItems {
		return nil, fmt.Errorf("order: items: want 1 to %d", maxOrderItems)
	}
	for i, it := range req.Items {
		if it.ProductID == "" || len(it.ProductID) > 64 {
			return nil, fmt.Errorf("order: items[%d].product_id: want 1 to 64 bytes", i)
		}
		if it.Quantity < 1 || it.Quantity > maxQuantity {
			return nil, fmt.Errorf("order: items[%d].quantity: want 1 to %d", i, maxQuantity)
		}
	}
	return req.Items, nil
}

func jsonBody(code int, v any) (int, []byte) {
	b, err := json.Marshal(v)
	if err != nil {
		return errorBody(http.StatusInternalServerError, "encode order: "+err.Error())
	}
	return code, b
}

func errorBody(code int, msg string) (int, []byte) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return code, b
}

func writeRaw(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(body)
}
