package chaos

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

func init() {
	registerKind(kind{
		name:         "crash",
		group:        GroupService,
		summary:      "close an in-process service's listener and live connections; revert brings it back on the same address",
		newFault:     func() Fault { return new(crashFault) },
		newInjection: func() Injection { return new(crashInjection) },
	})
}

// crashFault takes down a service running inside this process (a bundled
// target), so crash experiments run without Docker.
type crashFault struct {
	Service string `yaml:"service,omitempty" doc:"the in-process service to crash (required)"`
}

var _ Fault = (*crashFault)(nil)

func (f *crashFault) Kind() string     { return "crash" }
func (f *crashFault) Describe() string { return "crash service " + f.Service }

func (f *crashFault) Validate() []error {
	if f.Service == "" {
		return []error{fieldErrorf("service", "service is required: the name of an in-process service")}
	}
	return nil
}

func (f *crashFault) Resolve(ctx context.Context, env *Env) (Injection, error) {
	if _, ok := env.Services[f.Service]; !ok {
		names := make([]string, 0, len(env.Services))
		for name := range env.Services {
			names = append(names, name)
		}
		sort.Strings(names)
		there := "none runs in this process"
		if len(names) > 0 {
			there = "running here: " + strings.Join(names, ", ")
		}
		return nil, fmt.Errorf("no in-process service %q (%s)", f.Service, there)
	}
	return &crashInjection{Service: f.Service, Owner: self()}, nil
}

// crashInjection crashes an in-process service and restores it on revert.
// Only the process it runs in can restore it; when that process has ended,
// so has the service, and there is nothing left to revert.
type crashInjection struct {
	Service string `json:"service"`
	Owner   Owner  `json:"owner"`
}

var _ Injection = (*crashInjection)(nil)

func (c *crashInjection) Describe() string {
	return fmt.Sprintf("crash in-process service %s (%s)", c.Service, c.Owner)
}

func (c *crashInjection) Inject(ctx context.Context, env *Env) error {
	svc, ok := env.Services[c.Service]
	if !ok {
		return fmt.Errorf("no in-process service %q", c.Service)
	}
	if err := svc.Crash(ctx); err != nil {
		return fmt.Errorf("crash %s: %w", c.Service, err)
	}
	return nil
}

func (c *crashInjection) Revert(ctx context.Context, env *Env) (string, error) {
	if !c.Owner.IsSelf() {
		if !c.Owner.Alive() {
			return fmt.Sprintf("nothing to do: service %s ended with %s", c.Service, c.Owner), nil
		}
		return "", fmt.Errorf("service %s runs inside %s: %w", c.Service, c.Owner, errOwnedElsewhere)
	}
	svc, ok := env.Services[c.Service]
	if !ok {
		return "", fmt.Errorf("service %s is not registered in this process: cannot restore it", c.Service)
	}
	if err := svc.Restore(ctx); err != nil {
		return "", fmt.Errorf("restore %s: %w", c.Service, err)
	}
	return fmt.Sprintf("service %s restored", c.Service), nil
}
