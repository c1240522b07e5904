package targets

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// Reasons a pool refuses a request.
var (
	errPoolQueueFull = errors.New("pool queue full")
	errPoolWait      = errors.New("pool wait timed out")
)

// pool limits the requests served at once, like a database's connection
// pool: up to size run, up to maxQueue more wait for at most maxWait, and
// the rest are refused at once.
type pool struct {
	slots    chan struct{}
	maxQueue int64
	maxWait  time.Duration
	waiting  atomic.Int64
}

func newPool(cfg PoolConfig) *pool {
	return &pool{slots: make(chan struct{}, cfg.Size), maxQueue: int64(cfg.MaxQueue), maxWait: cfg.MaxWait}
}

// Acquire takes a slot, waiting in the bounded queue if none is free.
func (p *pool) Acquire(ctx context.Context) error {
	select {
	case p.slots <- struct{}{}:
		return nil
	default:
	}
	if p.waiting.Add(1) > p.maxQueue {
		p.waiting.Add(-1)
		return errPoolQueueFull
	}
	defer p.waiting.Add(-1)
	t := time.NewTimer(p.maxWait)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-t.C:
		return errPoolWait
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Release frees a slot.
func (p *pool) Release() { <-p.slots }

// InUse is the number of slots taken.
func (p *pool) InUse() int { return len(p.slots) }

// Waiting is the number of requests queued for a slot.
func (p *pool) Waiting() int { return int(p.waiting.Load()) }
