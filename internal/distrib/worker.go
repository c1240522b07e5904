package distrib

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report/results"
)

// maxRunRequest bounds a run request's body (the targets' bodies are in it).
const maxRunRequest = 64 << 20

// Worker serves runs to a coordinator, one at a time: it answers hellos,
// and on a run request waits for the start time, runs its segment of the
// schedule with the load engine and streams each interval back.
type Worker struct {
	// Token is the run's token; requests without it are refused.
	Token string
	// Name and Tool say who the worker is in hellos ("host:port",
	// "faultline 1.2.0").
	Name, Tool string
	// Log, when set, receives a line per run event.
	Log  io.Writer
	busy atomic.Bool
	mu   sync.Mutex // serialises Log
}

// Serve answers on ln until ctx ends, then waits for the run in progress
// (ended by ctx too) to send its last message.
func (w *Worker) Serve(ctx context.Context, ln net.Listener) error {
	if w.Token == "" {
		return errors.New("worker: no token: set " + TokenEnv)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+HelloPath, w.hello)
	mux.HandleFunc("POST "+RunPath, w.run)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdown)
	<-served
	return err
}

func (w *Worker) logf(format string, args ...any) {
	if w.Log == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	fmt.Fprintf(w.Log, format+"\n", args...)
}

func (w *Worker) hello(rw http.ResponseWriter, r *http.Request) {
	if !authorized(r, w.Token) {
		http.Error(rw, "unauthorized: wrong or missing token", http.StatusUnauthorized)
		return
	}
	writeJSON(rw, http.StatusOK, Hello{Protocol: Version, Tool: w.Tool, Name: w.Name,
		Proof: proof(w.Token, r.URL.Query().Get("nonce")), Busy: w.busy.Load(), Now: time.Now()})
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}

// refuse answers a run request that will not run.
func refuse(rw http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(rw, status, Message{Type: MsgError, At: time.Now(), Error: fmt.Sprintf(format, args...)})
}

// run serves POST /v1/run: checks the request, then streams the run.
func (w *Worker) run(rw http.ResponseWriter, r *http.Request) {
	if !authorized(r, w.Token) {
		http.Error(rw, "unauthorized: wrong or missing token", http.StatusUnauthorized)
		return
	}
	if !w.busy.CompareAndSwap(false, true) {
		refuse(rw, http.StatusConflict, "worker %s is running another run", w.Name)
		return
	}
	defer w.busy.Store(false)
	var req RunRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxRunRequest)).Decode(&req); err != nil {
		refuse(rw, http.StatusBadRequest, "run request: %v", err)
		return
	}
	opts, err := req.options()
	if err != nil {
		refuse(rw, http.StatusBadRequest, "run %s: %v", req.RunID, err)
		return
	}
	if !time.Now().Before(req.StartAt) {
		refuse(rw, http.StatusBadRequest, "run %s: the start time %s has passed on this worker's clock", req.RunID, req.StartAt.Format(time.RFC3339Nano))
		return
	}
	s := newStream(rw)
	w.logf("run %s: segment %d/%d, starts %s", req.RunID, req.Segment.Index, req.Segment.Count, req.StartAt.Format(time.RFC3339Nano))
	s.send(Message{Type: MsgAccepted})
	ctx, stop := context.WithCancel(r.Context())
	defer stop()
	s.onBroken = stop
	heartbeat := s.heartbeat(ctx, time.Duration(req.HeartbeatMs)*time.Millisecond)
	defer heartbeat()
	if !sleepUntil(ctx, req.StartAt) {
		w.logf("run %s: cancelled before its start", req.RunID)
		return
	}
	end, err := runSegment(ctx, opts, s)
	if err != nil {
		s.send(Message{Type: MsgError, Error: err.Error()})
		w.logf("run %s: %v", req.RunID, err)
		return
	}
	s.send(Message{Type: MsgEnd, End: end})
	w.logf("run %s: ended, %d sent", req.RunID, end.Sent)
}

// options checks a run request and builds the engine's options.
func (req *RunRequest) options() (loadgen.Options, error) {
	if req.Protocol != Version {
		return loadgen.Options{}, fmt.Errorf("protocol version %d, this worker speaks %d", req.Protocol, Version)
	}
	g := loadgen.Segment{Index: req.Segment.Index, Count: req.Segment.Count}
	if err := g.Validate(); err != nil {
		return loadgen.Options{}, err
	}
	spec, err := req.Spec.LoadSpec(g)
	if err != nil {
		return loadgen.Options{}, err
	}
	return spec.Options()
}

// runSegment runs the load, streaming its start and intervals through s.
func runSegment(ctx context.Context, opts loadgen.Options, s *stream) (*EndReport, error) {
	var started time.Time
	seq := 0
	enc := results.NewEncoder() // OnInterval runs on one goroutine
	opts.OnStart = func(t time.Time) {
		started = t
		s.send(Message{Type: MsgStarted, At: t})
	}
	opts.OnInterval = func(iv *loadgen.Stats) {
		ij, err := enc.Interval(iv, started)
		if err != nil {
			s.send(Message{Type: MsgError, Error: fmt.Sprintf("encode interval %d: %v", seq, err)})
			return
		}
		s.send(Message{Type: MsgInterval, Seq: seq, Interval: ij})
		seq++
	}
	res, err := loadgen.Run(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &EndReport{Sent: res.Sent, LastSendMs: float64(res.LastSend.Microseconds()) / 1000,
		Interrupted: res.Interrupted, CPUSeconds: res.Generator.CPU.Seconds(), Cores: res.Generator.Cores,
		Utilization: res.Generator.Utilization, Engine: string(res.Engine)}, nil
}

// stream writes a run's messages, one JSON line each, flushed at once;
// safe for the engine's collector and the heartbeat to share.
type stream struct {
	mu       sync.Mutex
	rw       http.ResponseWriter
	enc      *json.Encoder
	flusher  http.Flusher
	broken   bool
	onBroken func()
	last     time.Time
}

func newStream(rw http.ResponseWriter) *stream {
	rw.Header().Set("Content-Type", "application/x-ndjson")
	rw.WriteHeader(http.StatusOK)
	f, _ := rw.(http.Flusher)
	return &stream{rw: rw, enc: json.NewEncoder(rw), flusher: f}
}

// send writes m (stamped now unless it has a time). A failed write means
// the coordinator is gone: the run is stopped through onBroken.
func (s *stream) send(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken {
		return
	}
	if m.At.IsZero() {
		m.At = time.Now()
	}
	err := s.enc.Encode(m)
	if err == nil && s.flusher != nil {
		s.flusher.Flush()
	}
	s.last = time.Now()
	if err != nil {
		s.broken = true
		if s.onBroken != nil {
			s.onBroken()
		}
	}
}

// heartbeat sends a heartbeat whenever every has passed without a
// message, until ctx ends; the returned func stops it and waits.
func (s *stream) heartbeat(ctx context.Context, every time.Duration) (stop func()) {
	if every <= 0 {
		every = time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.mu.Lock()
				quiet := time.Since(s.last) >= every/2
				s.mu.Unlock()
				if quiet {
					s.send(Message{Type: MsgHeartbeat})
				}
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

// sleepUntil waits for t on this machine's clock; false when ctx ended
// first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
