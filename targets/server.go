package targets

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Service is one in-process service of a Shop: its handler behind a
// listener that can be crashed and restored.
type Service struct {
	name    string
	handler http.Handler
	log     *slog.Logger

	mu      sync.Mutex
	addr    string // the address listened on; Restore listens there again
	srv     *http.Server
	cancel  context.CancelFunc // cancels the requests of the current listener
	served  chan struct{}      // closed when the current Serve returns
	crashed bool
	closed  bool

	// active counts handler calls, so that Crash and Close can wait for
	// them to return.
	activeMu sync.Mutex
	active   int
	idle     *sync.Cond

	// gate, when set, is the CPU stress on the service (see StressCPU).
	gate atomic.Pointer[cpuGate]
}

func newService(name string, h http.Handler, log *slog.Logger) *Service {
	s := &Service{name: name, log: log}
	s.idle = sync.NewCond(&s.activeMu)
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.activeMu.Lock()
		s.active++
		s.activeMu.Unlock()
		defer func() {
			s.activeMu.Lock()
			s.active--
			if s.active == 0 {
				s.idle.Broadcast()
			}
			s.activeMu.Unlock()
		}()
		if g := s.gate.Load(); g != nil {
			g.wait(r.Context())
		}
		h.ServeHTTP(w, r)
	})
	return s
}

// Name is the service's name: gateway, catalog, orders or store.
func (s *Service) Name() string { return s.name }

// Addr is the host:port the service listens on (also while crashed).
func (s *Service) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// URL is the service's base URL, http://host:port.
func (s *Service) URL() string { return "http://" + s.Addr() }

// Crashed reports whether the service is down after Crash.
func (s *Service) Crashed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.crashed
}

// listen binds addr; the error names the port when it is taken.
func listen(name, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			_, port, _ := net.SplitHostPort(addr)
			return nil, fmt.Errorf("listen %s on %s: port %s is already in use", name, addr, port)
		}
		return nil, fmt.Errorf("listen %s on %s: %w", name, addr, err)
	}
	return ln, nil
}

// serve starts serving ln; s.mu must be held.
func (s *Service) serve(ln net.Listener) {
	ctx, cancel := context.WithCancel(context.Background())
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          log.New(discardWriter{}, "", 0),
	}
	served := make(chan struct{})
	s.addr, s.srv, s.cancel, s.served = ln.Addr().String(), srv, cancel, served
	go func() {
		defer close(served)
		srv.Serve(ln)
	}()
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// Crash makes the service vanish from the network as a crashed process
// would: the listener closes, so new connections are refused, and every
// open connection is closed, so requests in flight fail. It returns once
// every request handler has returned. The service's memory (cache, queue,
// idempotency keys, data) survives; Restore serves it again. Crashing a
// crashed service does nothing.
func (s *Service) Crash(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("crash %s: service closed", s.name)
	}
	if s.crashed {
		return nil
	}
	s.crashed = true
	s.stop()
	s.log.Info("service crashed", "service", s.name, "addr", s.addr)
	return s.waitIdle(ctx)
}

// stop closes the listener and the connections and waits for Serve to
// return; s.mu must be held.
func (s *Service) stop() {
	// Connections close before the requests' contexts are cancelled, so
	// that a handler giving up cannot still send a response.
	s.srv.Close()
	s.cancel()
	<-s.served
}

// waitIdle waits until no handler runs, or ctx is done.
func (s *Service) waitIdle(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.activeMu.Lock()
		for s.active > 0 {
			s.idle.Wait()
		}
		s.activeMu.Unlock()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		// The waiter ends when the last handler returns; handlers see
		// their cancelled context, so that is soon.
		return fmt.Errorf("%s: wait for requests in flight: %w", s.name, ctx.Err())
	}
}

// Restore listens again on the service's address and serves. The error
// names the port if something else took it meanwhile. Restoring a running
// service does nothing.
func (s *Service) Restore(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("restore %s: service closed", s.name)
	}
	if !s.crashed {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("restore %s: %w", s.name, err)
	}
	ln, err := listen(s.name, s.addr)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	s.serve(ln)
	s.crashed = false
	s.log.Info("service restored", "service", s.name, "addr", s.addr)
	return nil
}

// shutdown stops serving for good: it lets requests in flight finish for up
// to grace, then closes every connection and waits for the handlers.
func (s *Service) shutdown(grace time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if !s.crashed {
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		s.srv.Shutdown(ctx)
		cancel()
		s.stop()
	}
	s.activeMu.Lock()
	for s.active > 0 {
		s.idle.Wait()
	}
	s.activeMu.Unlock()
}
