package targets

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// CPUStressPeriod is the period of the in-process CPU stress model: in
// each one, the stressor has the service's core for load percent of it
// first, and the service the rest.
const CPUStressPeriod = 50 * time.Millisecond

// cpuGate models a core that one service shares with a stressor, without
// burning real CPU (which, on a shared machine, would slow every service
// of the process and the load generator with it): in each period the
// stressor holds the core for its window, and a request that arrives
// during the window waits until it ends before the service handles it.
// That is a core time-sliced between the service and a stressor that
// takes load percent of it, as a CFS quota throttles a container.
type cpuGate struct {
	load   int
	start  time.Time
	window time.Duration
	// held counts the requests that waited, waited their total wait in
	// nanoseconds, seen every request.
	held, waited, seen atomic.Int64
}

// wait holds the request until the stressor's window of the current
// period has passed, or ctx ends.
func (g *cpuGate) wait(ctx context.Context) {
	g.seen.Add(1)
	phase := time.Since(g.start) % CPUStressPeriod
	if phase >= g.window {
		return
	}
	d := g.window - phase
	g.held.Add(1)
	g.waited.Add(int64(d))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// StressCPU makes a stressor take load percent (1 to 99) of the service's
// core: in every CPUStressPeriod, requests that arrive during the first
// load percent of it wait until it is over. Only this service slows. A
// second call replaces the first.
func (s *Service) StressCPU(load int) error {
	if load < 1 || load > 99 {
		return fmt.Errorf("cpu stress on %s: load %d: want 1 to 99 percent (at 100 the service would never run)", s.name, load)
	}
	s.gate.Store(&cpuGate{load: load, start: time.Now(), window: CPUStressPeriod * time.Duration(load) / 100})
	s.log.Info("cpu stress", "service", s.name, "load", load)
	return nil
}

// UnstressCPU ends the CPU stress and says what it did: how many requests
// it held, of how many, and for how long in all.
func (s *Service) UnstressCPU() string {
	g := s.gate.Swap(nil)
	if g == nil {
		return fmt.Sprintf("service %s was not stressed", s.name)
	}
	s.log.Info("cpu stress ended", "service", s.name)
	return fmt.Sprintf("service %s: held %d of %d requests, %s in all", s.name, g.held.Load(), g.seen.Load(), time.Duration(g.waited.Load()).Round(time.Millisecond))
}
