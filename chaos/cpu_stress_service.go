package chaos

import (
	"fmt"
	"sort"
	"strings"
)

// This file is cpu_stress on a bundled service running inside faultline
// (the field service instead of containers). A real stressor in this
// process would slow every service in it, and the load generator with
// them; instead the service shares a modelled core with a stressor that
// takes load percent of it (targets.Service.StressCPU), so that only that
// service slows.

// cpuStressable is an in-process service that cpu_stress can load.
type cpuStressable interface {
	StressCPU(load int) error
	UnstressCPU() string
}

// validateInProcess checks a cpu_stress on an in-process service: no
// container fields, and a load the service can still run under.
func (f *cpuStressFault) validateInProcess() []error {
	var errs []error
	if len(f.Target.Names) > 0 || len(f.Target.Labels) > 0 {
		errs = append(errs, fieldErrorf("service", "service picks an in-process service: give it, or names/labels for containers, not both"))
	}
	if f.Load < 1 || f.Load > 99 {
		errs = append(errs, fieldErrorf("load", "load %d: want 1 to 99 percent of the in-process service's core (at 100 it would never run)", f.Load))
	}
	if f.Workers != 0 {
		errs = append(errs, fieldErrorf("workers", "workers applies to containers; an in-process service has one modelled core"))
	}
	return errs
}

func (f *cpuStressFault) resolveInProcess(env *Env) (Injection, error) {
	svc, ok := env.Services[f.Service]
	if _, can := svc.(cpuStressable); !ok || !can {
		names := make([]string, 0, len(env.Services))
		for name := range env.Services {
			names = append(names, name)
		}
		sort.Strings(names)
		there := "none runs in this process"
		if len(names) > 0 {
			there = "running here: " + strings.Join(names, ", ")
		}
		return nil, fmt.Errorf("no in-process service %q to stress (%s)", f.Service, there)
	}
	return &stressInjection{InProcess: &serviceStress{Service: f.Service, Load: f.Load, Owner: self()}}, nil
}

// serviceStress is a cpu_stress on an in-process service, as the ledger
// records it. It ends with the process that runs the service.
type serviceStress struct {
	Service string `json:"service"`
	Load    int    `json:"load"`
	Owner   Owner  `json:"owner"`
}

func (s *serviceStress) describe() string {
	return fmt.Sprintf("cpu_stress %d%% of the core of in-process service %s (%s)", s.Load, s.Service, s.Owner)
}

func (s *serviceStress) service(env *Env) (cpuStressable, error) {
	svc, ok := env.Services[s.Service].(cpuStressable)
	if !ok {
		return nil, fmt.Errorf("no in-process service %q to stress", s.Service)
	}
	return svc, nil
}

func (s *serviceStress) inject(env *Env) error {
	svc, err := s.service(env)
	if err != nil {
		return err
	}
	return svc.StressCPU(s.Load)
}

func (s *serviceStress) revert(env *Env) (string, error) {
	if !s.Owner.IsSelf() {
		if !s.Owner.Alive() {
			return fmt.Sprintf("nothing to do: service %s ended with %s", s.Service, s.Owner), nil
		}
		return "", fmt.Errorf("service %s runs inside %s: %w", s.Service, s.Owner, errOwnedElsewhere)
	}
	svc, err := s.service(env)
	if err != nil {
		return "", err
	}
	return svc.UnstressCPU(), nil
}
