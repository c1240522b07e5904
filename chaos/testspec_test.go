package chaos

import (
	"bytes"
	"time"

	"gopkg.in/yaml.v3"
)

// Spec is a test's shorthand for a fault of any kind: the union of every
// kind's fields. New writes it as the YAML of a `faults:` entry and decodes
// that strictly into the kind's own struct, as an experiment does, so a
// field the kind does not have is an error, as in a file.
type Spec struct {
	Kind          string            `yaml:"kind"`
	Proxy         string            `yaml:"proxy,omitempty"`
	Listen        string            `yaml:"listen,omitempty"`
	Upstream      string            `yaml:"upstream,omitempty"`
	Stream        string            `yaml:"stream,omitempty"`
	Toxicity      *float64          `yaml:"toxicity,omitempty"`
	Latency       time.Duration     `yaml:"latency,omitempty"`
	Jitter        time.Duration     `yaml:"jitter,omitempty"`
	Rate          ByteRate          `yaml:"rate,omitempty"`
	Delay         time.Duration     `yaml:"delay,omitempty"`
	Timeout       *time.Duration    `yaml:"timeout,omitempty"`
	AverageSize   Size              `yaml:"average_size,omitempty"`
	SizeVariation Size              `yaml:"size_variation,omitempty"`
	Bytes         Size              `yaml:"bytes,omitempty"`
	Names         []string          `yaml:"names,omitempty"`
	Labels        map[string]string `yaml:"labels,omitempty"`
	Selection     `yaml:",inline"`
	Seed          *uint64           `yaml:"seed,omitempty"`
	Signal        string            `yaml:"signal,omitempty"`
	Restore       *bool             `yaml:"restore,omitempty"`
	PID           int               `yaml:"pid,omitempty"`
	Pidfile       string            `yaml:"pidfile,omitempty"`
	Service       string            `yaml:"service,omitempty"`
	CPUs          float64           `yaml:"cpus,omitempty"`
	Memory        Size              `yaml:"memory,omitempty"`
	Network       string            `yaml:"network,omitempty"`
	FromNames     []string          `yaml:"from_names,omitempty"`
	Method        string            `yaml:"method,omitempty"`
	Path          string            `yaml:"path,omitempty"`
	Headers       map[string]string `yaml:"headers,omitempty"`
	Percent       *float64          `yaml:"percent,omitempty"`
	Status        int               `yaml:"status,omitempty"`
	Reset         bool              `yaml:"reset,omitempty"`
	Load          int               `yaml:"load,omitempty"`
	Workers       int               `yaml:"workers,omitempty"`
	Size          Size              `yaml:"size,omitempty"`
}

// decode returns the fault s describes, unchecked.
func (s Spec) decode() (Fault, error) {
	raw, err := yaml.Marshal(s)
	if err != nil {
		return nil, err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(raw, &n); err != nil {
		return nil, err
	}
	return decodeFault(n.Content[0])
}

// decodeFault decodes a `faults:` entry (a mapping with kind) strictly
// into its kind's struct.
func decodeFault(m *yaml.Node) (Fault, error) {
	var kind string
	rest := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "kind" {
			kind = m.Content[i+1].Value
			continue
		}
		rest.Content = append(rest.Content, m.Content[i], m.Content[i+1])
	}
	f, err := NewFault(kind)
	if err != nil || len(rest.Content) == 0 {
		return f, err
	}
	raw, err := yaml.Marshal(rest)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil {
		return nil, err
	}
	return f, nil
}

// Validate returns every problem with s: decoding it, or checking it.
func (s Spec) Validate() []error {
	f, err := s.decode()
	if err != nil {
		return []error{err}
	}
	return f.Validate()
}

// New returns the checked fault s describes.
func New(s Spec) (Fault, error) {
	f, err := s.decode()
	if err != nil {
		return nil, err
	}
	if err := Check(f); err != nil {
		return nil, err
	}
	return f, nil
}
