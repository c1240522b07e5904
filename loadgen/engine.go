package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
)

// Engine names how requests are sent.
type Engine string

// The engines.
const (
	// EngineAuto picks EngineEpoll where it serves the run (Linux, plain
	// http:// over HTTP/1.1, every host resolved) and EngineGoroutine
	// otherwise.
	EngineAuto Engine = "auto"
	// EngineEpoll runs one event loop per GOMAXPROCS, each owning a share
	// of the connections, over non-blocking sockets with its own epoll set,
	// waiting for its sockets and its next arrival in one epoll_pwait2
	// (engine_linux.go).
	// It is how wrk and wrk2 work, and costs less CPU per request than
	// EngineGoroutine.
	EngineEpoll Engine = "epoll"
	// EngineGoroutine sends from a goroutine per connection through Go's
	// net package, fed by a dispatcher goroutine over a channel. It serves
	// every platform, TLS and HTTP/2.
	EngineGoroutine Engine = "goroutine"
)

// Engines lists the values Options.Engine takes.
var Engines = []Engine{EngineAuto, EngineEpoll, EngineGoroutine}

// errNoEpoll says why a run cannot use EngineEpoll.
var errNoEpoll = errors.New("the epoll engine needs Linux and plain http:// targets over HTTP/1.1")

// epollServes reports whether the epoll engine can carry a run with these
// options (resolving hosts aside).
func (o *Options) epollServes() bool {
	if !epollSupported || o.HTTP2 {
		return false
	}
	for _, t := range o.Targets {
		if t.URL == nil || t.URL.Scheme != "http" {
			return false
		}
	}
	return true
}

// validateEngine adds the engine's problems to bad.
func (o *Options) validateEngine(bad func(string, ...any)) {
	switch o.Engine {
	case "", EngineAuto, EngineGoroutine: // "" is EngineAuto before setDefaults
	case EngineEpoll:
		if !o.epollServes() {
			bad("engine %s: %v", o.Engine, errNoEpoll)
		}
	default:
		bad("unknown engine %q (want auto, epoll or goroutine)", o.Engine)
	}
}

// eventEngine is what Run needs of the epoll engine.
type eventEngine interface {
	// start begins sending: in the open model it walks sched and closes
	// scheduleDone when sched has ended or ctx is done; in the closed
	// model it runs the virtual users until the planned end. Each loop is
	// added to workers and marks it done when it has nothing left in
	// flight.
	start(ctx context.Context, sched Schedule, workers *sync.WaitGroup, scheduleDone chan<- struct{})
	// abort makes every loop give up its requests in flight now and
	// return (after the engine has set e.stopping).
	abort()
	// close releases the loops' descriptors once they have returned.
	close()
}

// chooseEngine decides the engine of a run and, for the epoll engine,
// resolves every endpoint's address. Auto falls back to the goroutine
// engine when a host does not resolve, so the error shows per request as
// it would there; an explicit epoll engine fails the run instead.
func (e *engine) chooseEngine(sched Schedule) error {
	want := e.opts.Engine
	if want == EngineGoroutine || (want == EngineAuto && !e.opts.epollServes()) {
		e.kind = EngineGoroutine
		return nil
	}
	addrs := make([]*net.TCPAddr, len(e.endpoints))
	for i, ep := range e.endpoints {
		a, err := net.ResolveTCPAddr("tcp", ep.addr)
		if err != nil {
			if want == EngineAuto {
				e.kind = EngineGoroutine
				return nil
			}
			return fmt.Errorf("engine epoll: %w", err)
		}
		addrs[i] = a
	}
	ev, err := newEventEngine(e, addrs, sched)
	if err != nil {
		if want == EngineAuto {
			e.kind = EngineGoroutine
			return nil
		}
		return fmt.Errorf("engine epoll: %w", err)
	}
	e.kind, e.events = EngineEpoll, ev
	return nil
}
