package loadgen

import (
	"fmt"
	"strings"
	"time"
)

// Spec is a load as faultline's users describe it: in flags (faultline
// load) or in an experiment's load section (faultline run). Options is the
// one builder of engine Options from it, so the two commands cannot drift
// apart in what they send or how.
type Spec struct {
	Shape   Shape
	Segment Segment // the zero value is the whole schedule
	Targets []Target
	// Tool names the generator and its version, "faultline 1.2.0"; requests
	// carry it as their User-Agent, "faultline/1.2.0".
	Tool string

	ThinkTime                      time.Duration
	Connections, MaxInFlight       int
	Timeout, ConnectTimeout, Grace time.Duration
	HTTP2                          bool
	TLS                            TLSOptions
	Interval                       time.Duration
	Engine                         Engine
}

// Options builds the engine's options, with its schedule, and validates
// them; zero fields take the engine's defaults.
func (s Spec) Options() (Options, error) {
	sched, err := s.Shape.Schedule()
	if err != nil {
		return Options{}, err
	}
	if sched, err = s.Segment.Of(sched); err != nil {
		return Options{}, err
	}
	o := Options{
		Targets: s.Targets, Schedule: sched, Model: ModelOf(sched), ThinkTime: s.ThinkTime,
		Connections: s.Connections, MaxInFlight: s.MaxInFlight,
		Timeout: s.Timeout, ConnectTimeout: s.ConnectTimeout, Grace: s.Grace,
		HTTP2: s.HTTP2, TLS: s.TLS, Interval: s.Interval, UserAgent: userAgent(s.Tool),
		Engine: s.Engine,
	}
	if err := o.Validate(); err != nil {
		return Options{}, err
	}
	return o, nil
}

// userAgent is a tool's name and version as a product token: "faultline
// 1.2.0" becomes "faultline/1.2.0".
func userAgent(tool string) string {
	name, version, ok := strings.Cut(strings.TrimSpace(tool), " ")
	if name == "" {
		return DefaultUserAgent
	}
	if !ok {
		return name
	}
	return fmt.Sprintf("%s/%s", name, strings.ReplaceAll(strings.TrimSpace(version), " ", "-"))
}
