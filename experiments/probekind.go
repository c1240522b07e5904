package experiments

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/faultline-dev/faultline/internal/suggest"
)

// This file is the registry of steady-state probe kinds. A probe is a
// name, an expect, and at most one kind's key (http:, prometheus:,
// command:, ...) holding that kind's fields; without one, it is an expect
// over the load's own metrics. A kind is one file (probe_http.go, ...)
// that declares its struct, its checks, its description and how it runs,
// and registers it in init. docs/extending.md says how to add one.

// probeCheck is a probe kind's configuration: a pointer to its struct.
type probeCheck interface {
	// validate reports every problem with the kind's fields through v,
	// at path (the kind's key, "steady_state.probes[0].http").
	validate(v *validator, path string)
	// describe says what the probe checks, for --dry-run.
	describe() string
}

// selfCheck is a probe that judges its own fields (an HTTP status, an exit
// code): an expect does not go with it.
type selfCheck interface {
	probeCheck
	check(ctx context.Context, resolve func(string) string) probeResult
}

// readingCheck is a probe that reads one number, which its expect judges
// as value ("value < 5").
type readingCheck interface {
	probeCheck
	read(ctx context.Context, resolve func(string) string) (float64, error)
}

type probeKind struct {
	name     string
	newCheck func() probeCheck
}

var probeKinds = map[string]probeKind{}

// registerProbe adds a probe kind; a duplicate name panics at start-up.
func registerProbe(k probeKind) {
	if _, dup := probeKinds[k.name]; dup || k.name == "name" || k.name == "expect" {
		panic("experiments: probe kind registered twice: " + k.name)
	}
	switch k.newCheck().(type) {
	case selfCheck, readingCheck:
	default:
		panic("experiments: probe kind " + k.name + " neither checks itself nor reads a value")
	}
	probeKinds[k.name] = k
}

// probeKindNames lists the registered probe kinds, sorted.
func probeKindNames() []string {
	names := make([]string, 0, len(probeKinds))
	for name := range probeKinds {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// decodeNode decodes a probe: name and expect, and the one key that names
// a registered kind, decoded strictly into that kind's struct.
func (p *ProbeSpec) decodeNode(d *decoder, n *yaml.Node, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(nodePos(n), path, "want a mapping of name, expect and one of %s, got %s", strings.Join(probeKindNames(), ", "), describeNode(n))
		return
	}
	known := append([]string{"name", "expect"}, probeKindNames()...)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		fpath := join(path, key.Value)
		d.pos[fpath+"#key"] = nodePos(key)
		switch k, isKind := probeKinds[key.Value]; {
		case key.Value == "name":
			d.decode(val, reflect.ValueOf(&p.Name).Elem(), fpath)
		case key.Value == "expect":
			d.decode(val, reflect.ValueOf(&p.Expect).Elem(), fpath)
		case isKind && p.Kind != "":
			d.addf(nodePos(key), "%s: a probe is one of %s, not both %s and %s", displayPath(path), strings.Join(probeKindNames(), ", "), p.Kind, key.Value)
		case isKind:
			p.Kind, p.Check = key.Value, k.newCheck()
			d.decode(val, reflect.ValueOf(p.Check).Elem(), fpath)
		default:
			msg := fmt.Sprintf("%s: unknown field %q", displayPath(path), key.Value)
			if best := suggest.Closest(key.Value, known); best != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", best)
				d.markFailed(join(path, best)) // what its absence causes is no problem of its own
			} else {
				msg += fmt.Sprintf(" (known: %s)", strings.Join(known, ", "))
			}
			d.addf(nodePos(key), "%s", msg)
		}
	}
}

// checkProbeExpect checks that a probe's expect fits its kind: required
// over value for a probe that reads one, refused for one that checks
// itself, required (without value) for a probe over the load's metrics.
func (v *validator) checkProbeExpect(path string, p ProbeSpec, usesValue bool) {
	switch c := p.Check.(type) {
	case readingCheck:
		if p.Expect == "" {
			v.problem(path+".expect", "a %s probe needs expect over its reading, like value < 5", p.Kind)
		} else if !usesValue {
			v.problem(path+".expect", "a %s probe's expect judges its reading: write it with value, like value < 5", p.Kind)
		}
	case selfCheck:
		if p.Expect != "" {
			v.problem(path+".expect", "expect goes with a metric probe or one that reads a value; a %s probe checks its own fields", p.Kind)
		}
	case nil:
		switch {
		case p.Expect == "":
			v.problem(path, "a probe needs expect (over the load's metrics) or one of %s", strings.Join(probeKindNames(), ", "))
		case usesValue:
			v.problem(path+".expect", "value is the reading of a probe that reads one (%s)", strings.Join(readingKinds(), ", "))
		}
	default:
		panic(fmt.Sprintf("probe kind %s: %T", p.Kind, c))
	}
}

func readingKinds() []string {
	var out []string
	for _, name := range probeKindNames() {
		if _, ok := probeKinds[name].newCheck().(readingCheck); ok {
			out = append(out, name)
		}
	}
	return out
}
