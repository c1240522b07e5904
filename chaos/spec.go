package chaos

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/internal/exitcode"
)

// Spec configures one fault. It is the `faults:` entry of an experiment
// (decode it with yaml.v3, KnownFields(true)) and what the ad-hoc CLI builds
// from its flags. Kind picks the fault kind; each kind accepts only the
// fields listed in its documentation (docs/chaos.md), and Validate reports a
// field given to a kind that does not use it.
type Spec struct {
	Kind string `yaml:"kind"`

	// Network faults, through Toxiproxy.

	// Proxy is the name of the Toxiproxy proxy the fault acts on.
	Proxy string `yaml:"proxy,omitempty"`
	// Listen and Upstream, when Upstream is set, create the proxy if it does
	// not exist; the fault then deletes it on revert.
	Listen   string `yaml:"listen,omitempty"`
	Upstream string `yaml:"upstream,omitempty"`
	// Stream is the direction a toxic applies to: downstream (server to
	// client, the default) or upstream (client to server).
	Stream string `yaml:"stream,omitempty"`
	// Toxicity is the probability, per connection, that the toxic applies
	// (default 1).
	Toxicity *float64 `yaml:"toxicity,omitempty"`

	Latency       time.Duration  `yaml:"latency,omitempty"`        // latency
	Jitter        time.Duration  `yaml:"jitter,omitempty"`         // latency
	Rate          ByteRate       `yaml:"rate,omitempty"`           // bandwidth
	Delay         time.Duration  `yaml:"delay,omitempty"`          // slow_close, slicer
	Timeout       *time.Duration `yaml:"timeout,omitempty"`        // timeout, reset_peer, stop, restart
	AverageSize   Size           `yaml:"average_size,omitempty"`   // slicer
	SizeVariation Size           `yaml:"size_variation,omitempty"` // slicer
	Bytes         Size           `yaml:"bytes,omitempty"`          // limit_data

	// Container faults, through the Docker Engine.

	// Names selects containers by name; an entry "re2:EXPR" is a regular
	// expression on names (at most one).
	Names []string `yaml:"names,omitempty"`
	// Labels selects containers carrying every one of these labels.
	Labels map[string]string `yaml:"labels,omitempty"`
	// Selection (mode, value) picks how many of the matching containers.
	Selection `yaml:",inline"`
	// Seed overrides the run's seed for this fault's pick.
	Seed *uint64 `yaml:"seed,omitempty"`
	// Signal is what kill or signal sends (default SIGKILL).
	Signal string `yaml:"signal,omitempty"`
	// Restore false leaves killed, stopped or paused containers as the fault
	// left them on revert.
	Restore *bool `yaml:"restore,omitempty"`

	// Process faults, by signal.

	PID     int    `yaml:"pid,omitempty"`
	Pidfile string `yaml:"pidfile,omitempty"`

	// Service is the in-process service a crash fault takes down.
	Service string `yaml:"service,omitempty"`
}

// setFields returns the YAML names of the fields that are set (not zero),
// kind excepted, in declaration order.
func (s Spec) setFields() []string {
	var names []string
	v := reflect.ValueOf(s)
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if f.Anonymous { // the inlined Selection
			sel := v.Field(i)
			for j := range sel.NumField() {
				if !sel.Field(j).IsZero() {
					n, _, _ := strings.Cut(sel.Type().Field(j).Tag.Get("yaml"), ",")
					names = append(names, n)
				}
			}
			continue
		}
		if name == "kind" || v.Field(i).IsZero() {
			continue
		}
		names = append(names, name)
	}
	return names
}

// Validate returns every problem with the spec: an unknown kind (the error
// lists the valid ones), fields the kind does not use, and the kind's own
// checks.
func (s Spec) Validate() []error {
	k, ok := kinds[s.Kind]
	if !ok || k.hidden {
		return []error{unknownKindError(s.Kind)}
	}
	var errs []error
	for _, f := range s.setFields() {
		if !slices.Contains(k.fields, f) {
			errs = append(errs, fmt.Errorf("%s: field %s does not apply (fields of %s: %s)", s.Kind, f, s.Kind, strings.Join(k.fields, ", ")))
		}
	}
	for _, err := range k.build(s).Validate() {
		errs = append(errs, fmt.Errorf("%s: %w", s.Kind, err))
	}
	return errs
}

// New builds the fault s describes. It validates s and returns every
// problem at once, as a usage error (exit code 2).
func New(s Spec) (Fault, error) {
	if errs := s.Validate(); len(errs) > 0 {
		return nil, exitcode.Wrap(errors.Join(errs...), exitcode.Usage)
	}
	return kinds[s.Kind].build(s), nil
}

// restore reports whether revert should bring targets back (the default).
func (s Spec) restore() bool { return s.Restore == nil || *s.Restore }

// seed returns the fault's own seed if it has one, else the run's.
func (s Spec) seed(env *Env) uint64 {
	if s.Seed != nil {
		return *s.Seed
	}
	return env.Seed
}

// wholeMillis converts d for a Toxiproxy attribute counted in milliseconds.
func wholeMillis(field string, d time.Duration) (int64, error) {
	if d < 0 {
		return 0, fmt.Errorf("%s must not be negative (got %s)", field, d)
	}
	if d%time.Millisecond != 0 {
		return 0, fmt.Errorf("%s must be a whole number of milliseconds (got %s)", field, d)
	}
	return int64(d / time.Millisecond), nil
}
