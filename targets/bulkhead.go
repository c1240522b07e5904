package targets

// bulkhead bounds the calls in flight to one upstream; it never queues.
type bulkhead struct {
	slots chan struct{}
}

func newBulkhead(max int) *bulkhead { return &bulkhead{slots: make(chan struct{}, max)} }

// TryAcquire takes a slot if one is free.
func (b *bulkhead) TryAcquire() bool {
	select {
	case b.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// Release frees a slot taken by TryAcquire.
func (b *bulkhead) Release() { <-b.slots }

// InUse is the number of slots taken.
func (b *bulkhead) InUse() int { return len(b.slots) }
