// Package distrib runs one load on several generators: a coordinator hands
// each worker a segment of the schedule and a start time, the workers
// stream their interval histograms back over HTTP, and the coordinator
// merges them exactly as they arrive, so thresholds are judged on the whole
// load. docs/distributed.md describes the model and the message format.
package distrib

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report/results"
)

// Version is the protocol version. A worker refuses a run of another
// version, and the coordinator a worker that speaks another one: both ends
// are the same faultline release in practice, and a mismatch found at
// hello costs nothing, where one found mid-run would cost the run.
const Version = 1

// TokenEnv is the environment variable that carries the run's token to a
// worker (and, with --workers, to the coordinator): never a flag, so it
// does not show in the process list.
const TokenEnv = "FAULTLINE_WORKER_TOKEN"

// The HTTP paths of a worker.
const (
	HelloPath = "/v1/hello"
	RunPath   = "/v1/run"
)

// Hello is a worker's answer to GET /v1/hello?nonce=HEX: who it is, its
// clock (for the offset), and the proof that it holds the token.
type Hello struct {
	Protocol int    `json:"protocol"`
	Tool     string `json:"tool"`
	Name     string `json:"name"`
	// Now is the worker's clock when it answered.
	Now time.Time `json:"now"`
	// Proof is hex(HMAC-SHA256(token, nonce)): a process that does not
	// hold the run's token cannot join it, even at a worker's address.
	Proof string `json:"proof"`
	Busy  bool   `json:"busy"`
}

// RunRequest is the body of POST /v1/run: the whole load, the worker's
// segment of it, and when to start on the worker's own clock (the
// coordinator has already added the worker's measured offset).
type RunRequest struct {
	Protocol int       `json:"protocol"`
	RunID    string    `json:"run_id"`
	Segment  Segment   `json:"segment"`
	StartAt  time.Time `json:"start_at"`
	Spec     Spec      `json:"spec"`
	// Heartbeat is how often the worker writes a heartbeat message when it
	// has nothing else to say, in milliseconds.
	HeartbeatMs int64 `json:"heartbeat_ms"`
}

// Segment is a share of the schedule on the wire: Index of Count, from 0.
type Segment struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// Message types of a run's response stream (newline-delimited JSON).
const (
	MsgAccepted  = "accepted"  // the run is valid; the worker waits for StartAt
	MsgHeartbeat = "heartbeat" // nothing else to say: the worker is alive
	MsgStarted   = "started"   // the schedule began (At, worker clock)
	MsgInterval  = "interval"  // one interval's statistics
	MsgEnd       = "end"       // the run ended; End holds its totals
	MsgError     = "error"     // the run failed; Error says why
)

// Message is one line of a run's response stream.
type Message struct {
	Type string    `json:"type"`
	At   time.Time `json:"at"`
	// Seq numbers intervals from 0; Interval's offsets count from the
	// worker's start (the At of its started message).
	Seq      int               `json:"seq,omitempty"`
	Interval *results.Interval `json:"interval,omitempty"`
	End      *EndReport        `json:"end,omitempty"`
	Error    string            `json:"error,omitempty"`
}

// EndReport is what a worker says of its whole run.
type EndReport struct {
	Sent        int64   `json:"sent"`
	LastSendMs  float64 `json:"last_send_ms"`
	Interrupted bool    `json:"interrupted"`
	CPUSeconds  float64 `json:"cpu_seconds"`
	Cores       int     `json:"cores"`
	Utilization float64 `json:"utilization"`
	Engine      string  `json:"engine"`
}

// Spec is a loadgen.Spec on the wire, without its segment (RunRequest
// carries that). Durations are Go duration strings ("250ms").
type Spec struct {
	Model          loadgen.Model `json:"model"`
	Rate           float64       `json:"rate,omitempty"`
	Concurrency    int           `json:"concurrency,omitempty"`
	Stages         []Stage       `json:"stages,omitempty"`
	Duration       string        `json:"duration,omitempty"`
	Poisson        bool          `json:"poisson,omitempty"`
	Seed           uint64        `json:"seed,omitempty"`
	Targets        []Target      `json:"targets"`
	Tool           string        `json:"tool"`
	ThinkTime      string        `json:"think_time,omitempty"`
	Connections    int           `json:"connections,omitempty"`
	MaxInFlight    int           `json:"max_in_flight,omitempty"`
	Timeout        string        `json:"timeout,omitempty"`
	ConnectTimeout string        `json:"connect_timeout,omitempty"`
	Grace          string        `json:"grace,omitempty"`
	HTTP2          bool          `json:"http2,omitempty"`
	TLS            TLS           `json:"tls"`
	Interval       string        `json:"interval,omitempty"`
	Engine         string        `json:"engine,omitempty"`
}

// Stage is one ramp stage on the wire.
type Stage struct {
	Duration string  `json:"duration"`
	Target   float64 `json:"target"`
	Step     bool    `json:"step,omitempty"`
}

// Target is one request on the wire; Body is base64 (encoding/json's
// []byte).
type Target struct {
	Name   string      `json:"name,omitempty"`
	Method string      `json:"method"`
	URL    string      `json:"url"`
	Header http.Header `json:"header,omitempty"`
	Body   []byte      `json:"body,omitempty"`
	Weight int         `json:"weight,omitempty"`
}

// TLS is loadgen.TLSOptions on the wire. The files are read on the
// worker's machine.
type TLS struct {
	Insecure bool   `json:"insecure,omitempty"`
	CAFile   string `json:"ca_file,omitempty"`
	CertFile string `json:"cert_file,omitempty"`
	KeyFile  string `json:"key_file,omitempty"`
}

func durationString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// WireSpec is s as sent to a worker (its segment is not part of it).
func WireSpec(s loadgen.Spec) Spec {
	w := Spec{
		Model: s.Shape.Model, Rate: s.Shape.Rate, Concurrency: s.Shape.Concurrency,
		Duration: durationString(s.Shape.Duration), Poisson: s.Shape.Poisson, Seed: s.Shape.Seed,
		Tool: s.Tool, ThinkTime: durationString(s.ThinkTime), Connections: s.Connections, MaxInFlight: s.MaxInFlight,
		Timeout: durationString(s.Timeout), ConnectTimeout: durationString(s.ConnectTimeout), Grace: durationString(s.Grace),
		HTTP2: s.HTTP2, TLS: TLS(s.TLS), Interval: durationString(s.Interval), Engine: string(s.Engine),
	}
	for _, st := range s.Shape.Stages {
		w.Stages = append(w.Stages, Stage{Duration: st.Duration.String(), Target: st.Target, Step: st.Step})
	}
	for _, t := range s.Targets {
		w.Targets = append(w.Targets, Target{Name: t.Name, Method: t.Method, URL: t.URL.String(), Header: t.Header, Body: t.Body, Weight: t.Weight})
	}
	return w
}

// LoadSpec reads a wire spec back into a loadgen.Spec with the segment g.
func (w Spec) LoadSpec(g loadgen.Segment) (loadgen.Spec, error) {
	s := loadgen.Spec{
		Shape:   loadgen.Shape{Model: w.Model, Rate: w.Rate, Concurrency: w.Concurrency, Poisson: w.Poisson, Seed: w.Seed},
		Segment: g, Tool: w.Tool, Connections: w.Connections, MaxInFlight: w.MaxInFlight,
		HTTP2: w.HTTP2, TLS: loadgen.TLSOptions(w.TLS), Engine: loadgen.Engine(w.Engine),
	}
	var err error
	for _, d := range []struct {
		name string
		src  string
		dst  *time.Duration
	}{{"duration", w.Duration, &s.Shape.Duration}, {"think_time", w.ThinkTime, &s.ThinkTime},
		{"timeout", w.Timeout, &s.Timeout}, {"connect_timeout", w.ConnectTimeout, &s.ConnectTimeout},
		{"grace", w.Grace, &s.Grace}, {"interval", w.Interval, &s.Interval}} {
		if d.src == "" {
			continue
		}
		if *d.dst, err = time.ParseDuration(d.src); err != nil {
			return s, fmt.Errorf("spec %s: %w", d.name, err)
		}
	}
	for i, st := range w.Stages {
		d, err := time.ParseDuration(st.Duration)
		if err != nil {
			return s, fmt.Errorf("spec stage %d: %w", i, err)
		}
		s.Shape.Stages = append(s.Shape.Stages, loadgen.Stage{Duration: d, Target: st.Target, Step: st.Step})
	}
	for i, t := range w.Targets {
		u, err := url.Parse(t.URL)
		if err != nil {
			return s, fmt.Errorf("spec target %d: %w", i, err)
		}
		header := t.Header
		if header == nil {
			header = http.Header{}
		}
		s.Targets = append(s.Targets, loadgen.Target{Name: t.Name, Method: t.Method, URL: u, Header: header, Body: t.Body, Weight: t.Weight})
	}
	return s, nil
}

// NewToken returns a fresh random token: 32 bytes, hex.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// proof is hex(HMAC-SHA256(token, nonce)).
func proof(token, nonce string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte(nonce))
	return hex.EncodeToString(m.Sum(nil))
}

// authorized reports whether r carries the bearer token, in constant time.
func authorized(r *http.Request, token string) bool {
	got := r.Header.Get("Authorization")
	return hmac.Equal([]byte(got), []byte("Bearer "+token))
}
