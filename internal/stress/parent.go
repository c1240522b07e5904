package stress

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrParentEnded is the cause of a context from UntilParentEnds that ended
// because the process's parent did.
var ErrParentEnded = errors.New("parent process ended")

// UntilParentEnds returns a context that ends with ctx, or with cause
// ErrParentEnded as soon as getppid (os.Getppid) returns 1 or a pid other
// than the one it returned first, checked every interval (at once too). A
// process whose parent ends is given a new parent (init, a subreaper, or
// in a container the container's first process, where an exec'd process
// starts with parent 0), so a change of parent is the parent's death on
// every system, where PR_SET_PDEATHSIG does not reach a process exec'd into
// a container. Parent 1 counts as ended from the start: a parent that ended
// before the first look has been replaced by init already. (One replaced by
// a subreaper before that look is not seen: the deadline still holds.)
// stop ends the watch and waits for it.
func UntilParentEnds(ctx context.Context, getppid func() int, interval time.Duration) (watched context.Context, stop func()) {
	first := getppid()
	watched, cancel := context.WithCancelCause(ctx)
	if first == 1 {
		cancel(ErrParentEnded)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			select {
			case <-watched.Done():
				return
			case <-ticker.C:
				if getppid() != first {
					cancel(ErrParentEnded)
					return
				}
			}
		}
	})
	return watched, func() { cancel(nil); wg.Wait() }
}
