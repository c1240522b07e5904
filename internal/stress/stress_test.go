package stress

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// cpuTime is the CPU time this process has used, user and system.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// coresUsed runs CPU(load, workers) for d and returns the cores the
// process used meanwhile, from its own CPU accounting, and the wall time.
func coresUsed(t *testing.T, load, workers int, d time.Duration) (float64, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	before, start := cpuTime(t), time.Now()
	if err := CPU(ctx, load, workers); err != nil {
		t.Fatalf("CPU(%d, %d): %v", load, workers, err)
	}
	used, wall := cpuTime(t)-before, time.Since(start)
	return used.Seconds() / wall.Seconds(), wall
}

// TestCPULoad runs workers at a load for 1.5 s and checks, from the
// process's own CPU accounting, that they used about that share of a core
// each: at most 1.5 times it (the stressor does not spin flat out), and at
// least half of it, or half of what one thread at 100% got just before when
// the shared machine cannot give a thread that much (the share of what it
// gets).
func TestCPULoad(t *testing.T) {
	cases := []struct{ load, workers int }{{50, 1}, {20, 2}}
	for _, c := range cases {
		available, _ := coresUsed(t, 100, 1, 500*time.Millisecond)
		cores, wall := coresUsed(t, c.load, c.workers, 1500*time.Millisecond)
		want := float64(c.load) / 100 * float64(c.workers)
		lo, hi := 0.5*min(want, available*float64(c.workers)), 1.5*want
		t.Logf("load %d%% x%d: %.2f cores over %v (one thread at 100%% got %.2f)", c.load, c.workers, cores, wall.Round(time.Millisecond), available)
		if cores < lo || cores > hi {
			t.Errorf("load %d%% x%d: used %.2f cores, want %.2f..%.2f", c.load, c.workers, cores, lo, hi)
		}
		if wall > 1500*time.Millisecond+CPUSlice+500*time.Millisecond {
			t.Errorf("load %d%% x%d: returned after %v, deadline was 1.5s", c.load, c.workers, wall)
		}
	}
}

func TestCPUBadInput(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ load, workers int }{{0, 1}, {101, 1}, {50, 0}} {
		if err := CPU(context.Background(), c.load, c.workers); err == nil {
			t.Errorf("CPU(%d, %d): no error", c.load, c.workers)
		}
	}
}

// rss is the resident set of this process, from /proc/self/statm.
func rss(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc/self/statm: %v", err)
	}
	fields := strings.Fields(string(b))
	pages, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

// TestMemoryResident checks that the pages are resident once Memory says
// so, and that it returns when its context ends.
func TestMemoryResident(t *testing.T) {
	const size = 64 << 20
	before := rss(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var grown int64
	start := time.Now()
	err := Memory(ctx, size, func() {
		grown = rss(t) - before
		cancel()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rss grew by %d MiB for %d MiB in %v", grown>>20, size>>20, time.Since(start).Round(time.Millisecond))
	if grown < size*8/10 {
		t.Errorf("rss grew by %d bytes, want at least 80%% of %d", grown, size)
	}
}

// TestUntilParentEnds: the context ends, with ErrParentEnded, once the
// parent pid changes, and not before.
func TestUntilParentEnds(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	getppid := func() int {
		if calls.Add(1) > 3 {
			return 1 // reparented: the parent ended
		}
		return 4242
	}
	ctx, stop := UntilParentEnds(context.Background(), getppid, time.Millisecond)
	defer stop()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the parent changed, the context did not end")
	}
	if n := calls.Load(); n < 4 {
		t.Errorf("ended after %d reads of the parent pid, before it changed", n)
	}
	if cause := context.Cause(ctx); !errors.Is(cause, ErrParentEnded) {
		t.Errorf("cause %v, want ErrParentEnded", cause)
	}
}

// TestUntilParentEndsParentOne: a process whose parent is init from the
// start lost its parent before it could look.
func TestUntilParentEndsParentOne(t *testing.T) {
	t.Parallel()
	ctx, stop := UntilParentEnds(context.Background(), func() int { return 1 }, time.Hour)
	defer stop()
	if cause := context.Cause(ctx); !errors.Is(cause, ErrParentEnded) {
		t.Errorf("parent 1: cause %v, want ErrParentEnded at once", cause)
	}
}
