// Package stress is the stressor that faultline runs as its own process
// (`faultline stress cpu|memory`), on the host or copied into a target
// container: it burns a share of CPU or keeps memory resident until its
// context ends. The command gives that context an absolute deadline, so no
// stress outlives its fault.
package stress

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

// CPUSlice is the CPU time of one busy-and-idle cycle of a CPU worker: a
// worker at load L burns L% of it, then idles the rest. It is short enough
// that a sampler of one second sees a steady load.
const CPUSlice = 100 * time.Millisecond

// MaxFor is the longest stress the command accepts: a bound, so that a
// mistyped duration cannot leave a stressor running for days.
const MaxFor = 24 * time.Hour

// ValidLoad reports whether load is a CPU share this package accepts, 1..100.
func ValidLoad(load int) bool { return load >= 1 && load <= 100 }

// CPU runs workers goroutines, each on its own OS thread, that keep that
// thread at load percent of a CPU until ctx ends. The duty cycle is measured
// against the thread's own CPU time, not the wall clock: a worker spins
// until its thread has used load% of CPUSlice, then idles the rest of the
// slice. Under contention a spin takes longer in wall time, but the worker
// still burns its share of the CPU it is given, as a real busy service
// would.
func CPU(ctx context.Context, load, workers int) error {
	if !ValidLoad(load) {
		return fmt.Errorf("load %d: not in 1..100", load)
	}
	if workers < 1 {
		return fmt.Errorf("workers %d: at least 1", workers)
	}
	busy := CPUSlice * time.Duration(load) / 100
	idle := CPUSlice - busy
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for i := range workers {
		wg.Go(func() { errs[i] = cpuWorker(ctx, busy, idle) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func cpuWorker(ctx context.Context, busy, idle time.Duration) error {
	// The thread's CPU clock is only the worker's own while the goroutine
	// stays on that thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var timer *time.Timer
	if idle > 0 {
		timer = time.NewTimer(idle)
		defer timer.Stop()
	}
	for ctx.Err() == nil {
		start, err := threadCPUTime()
		if err != nil {
			return fmt.Errorf("cpu worker: %w", err)
		}
		for {
			spin()
			now, err := threadCPUTime()
			if err != nil {
				return fmt.Errorf("cpu worker: %w", err)
			}
			if now-start >= busy || ctx.Err() != nil {
				break
			}
		}
		if timer == nil {
			continue
		}
		timer.Reset(idle)
		select {
		case <-ctx.Done():
		case <-timer.C:
		}
	}
	return nil
}

// spinSink keeps the compiler from removing spin's loop.
var spinSink uint64

// spin does a few microseconds of arithmetic between two reads of the
// thread's CPU clock, so that the reads (system calls) are a small part of
// the load.
func spin() {
	x := spinSink | 1
	for range 20000 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	spinSink = x
}

// RetouchEvery is how often Memory writes to every page again, so that the
// pages stay resident and dirty rather than drifting to swap.
const RetouchEvery = time.Second

// Memory allocates size bytes, writes to every page so that each is
// resident, calls resident (when not nil) once they all are, and writes to
// every page again each RetouchEvery until ctx ends.
func Memory(ctx context.Context, size int64, resident func()) error {
	if size <= 0 {
		return fmt.Errorf("size %d: must be positive", size)
	}
	block := make([]byte, size)
	page := os.Getpagesize()
	touch := func(round byte) {
		for i := 0; i < len(block); i += page {
			block[i] = round | 1
		}
	}
	touch(0)
	if resident != nil {
		resident()
	}
	ticker := time.NewTicker(RetouchEvery)
	defer ticker.Stop()
	for round := byte(1); ; round++ {
		select {
		case <-ctx.Done():
			runtime.KeepAlive(block)
			return nil
		case <-ticker.C:
			touch(round)
		}
	}
}
