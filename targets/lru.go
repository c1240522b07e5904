package targets

import (
	"container/list"
	"sync"
	"time"
)

// lru is a bounded, least-recently-used map whose entries carry an expiry.
// Entries past their expiry are still returned (marked not fresh) until they
// are past their deletion time too, which is how the catalog serves stale
// data. It is safe for concurrent use.
type lru[K comparable, V any] struct {
	mu       sync.Mutex
	capacity int
	order    *list.List // front is the most recently used
	items    map[K]*list.Element
	onEvict  func() // called with mu held, for metrics
}

type lruEntry[K comparable, V any] struct {
	key      K
	value    V
	freshTil time.Time // after this the entry is stale
	deleteAt time.Time // after this the entry is gone
}

func newLRU[K comparable, V any](capacity int) *lru[K, V] {
	if capacity < 1 {
		capacity = 1
	}
	return &lru[K, V]{capacity: capacity, order: list.New(), items: make(map[K]*list.Element)}
}

// Get returns the value under key and whether it is still fresh. Entries
// past their deletion time are removed and reported missing.
func (c *lru[K, V]) Get(key K, now time.Time) (value V, fresh, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, found := c.items[key]
	if !found {
		return value, false, false
	}
	e := el.Value.(*lruEntry[K, V])
	if !e.deleteAt.IsZero() && !now.Before(e.deleteAt) {
		c.order.Remove(el)
		delete(c.items, key)
		return value, false, false
	}
	c.order.MoveToFront(el)
	fresh = e.freshTil.IsZero() || now.Before(e.freshTil)
	return e.value, fresh, true
}

// Put stores value under key, fresh for ttl and kept for a further keep
// after that (a zero ttl never goes stale). The least recently used entry is
// evicted when the map is full.
func (c *lru[K, V]) Put(key K, value V, now time.Time, ttl, keep time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := &lruEntry[K, V]{key: key, value: value}
	if ttl > 0 {
		e.freshTil = now.Add(ttl)
		e.deleteAt = e.freshTil.Add(keep)
	}
	if el, found := c.items[key]; found {
		el.Value = e
		c.order.MoveToFront(el)
		return
	}
	c.items[key] = c.order.PushFront(e)
	for c.order.Len() > c.capacity {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.items, oldest.Value.(*lruEntry[K, V]).key)
		if c.onEvict != nil {
			c.onEvict()
		}
	}
}

// Delete removes key.
func (c *lru[K, V]) Delete(key K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, found := c.items[key]; found {
		c.order.Remove(el)
		delete(c.items, key)
	}
}

// Len is the number of entries held, stale ones included.
func (c *lru[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
