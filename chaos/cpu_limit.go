package chaos

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/faultline-dev/faultline/chaos/docker"
	"github.com/faultline-dev/faultline/internal/exitcode"
)

func init() {
	registerKind(kind{
		name:         "cpu_limit",
		group:        GroupContainer,
		summary:      "lower containers' CPU limit to cpus (Docker ContainerUpdate); revert restores the limits they had",
		newFault:     func() Fault { return new(cpuLimitFault) },
		newInjection: func() Injection { return new(limitInjection) },
	})
}

// cfsPeriod is the kernel's default CFS period, in microseconds: the
// period of a container that has none of its own.
const cfsPeriod = 100_000

// cpuLimitFault throttles containers: their processes get at most CPUs
// cores' worth of CPU time, however many they could use.
type cpuLimitFault struct {
	Target containerTarget `yaml:",inline"`
	CPUs   float64         `yaml:"cpus,omitempty" doc:"the CPU limit, in cores (required; at least 0.01), such as 0.5; it must be below the container's current limit"`
}

var _ Fault = (*cpuLimitFault)(nil)

func (f *cpuLimitFault) Kind() string { return "cpu_limit" }

func (f *cpuLimitFault) Validate() []error {
	errs := f.Target.validate()
	if f.CPUs < 0.01 {
		errs = append(errs, fieldErrorf("cpus", "cpus %v: want a CPU limit of at least 0.01 cores, such as 0.5", f.CPUs))
	}
	return errs
}

func (f *cpuLimitFault) what() string { return fmt.Sprintf("cpu_limit %v CPUs", f.CPUs) }

func (f *cpuLimitFault) Describe() string { return f.what() + " on " + f.Target.describe() }

func (f *cpuLimitFault) Resolve(ctx context.Context, env *Env) (Injection, error) {
	return resolveLimits(ctx, env, f.Target, f.what(), f.limit)
}

// limit returns the limits that throttle a container whose limits are now
// before, and those that restore it: the CPU count (NanoCPUs) when the
// container has one, else its CFS quota and period.
func (f *cpuLimitFault) limit(before docker.Limits) (during, restore docker.Limits, err error) {
	if before.NanoCPUs > 0 {
		during.NanoCPUs = int64(f.CPUs * 1e9)
		if during.NanoCPUs >= before.NanoCPUs {
			return during, restore, fieldErrorf("cpus", "already limited to %v CPUs: cpus %v would not lower it", float64(before.NanoCPUs)/1e9, f.CPUs)
		}
		return during, docker.Limits{NanoCPUs: before.NanoCPUs}, nil
	}
	period := before.CPUPeriod
	if period <= 0 {
		period = cfsPeriod
	}
	during = docker.Limits{CPUPeriod: period, CPUQuota: int64(f.CPUs * float64(period))}
	if before.CPUQuota > 0 && during.CPUQuota >= before.CPUQuota {
		return during, restore, fieldErrorf("cpus", "already limited to %v CPUs: cpus %v would not lower it", float64(before.CPUQuota)/float64(period), f.CPUs)
	}
	// The engine cannot set a quota back to "not set": -1 is the same
	// (unlimited) to the kernel. A period that was not set stays at the
	// kernel's default, which it was.
	restore = docker.Limits{CPUQuota: before.CPUQuota, CPUPeriod: before.CPUPeriod}
	if restore.CPUQuota == 0 {
		restore.CPUQuota = -1
	}
	return during, restore, nil
}

// resolveLimits picks the target's containers and, for each, reads its
// limits and works out the ones to set and to restore, touching nothing.
func resolveLimits(ctx context.Context, env *Env, target containerTarget, what string, limit func(before docker.Limits) (during, restore docker.Limits, err error)) (Injection, error) {
	eng, refs, how, err := target.pick(ctx, env)
	if err != nil {
		return nil, err
	}
	inj := &limitInjection{Host: eng.Host(), What: what, Selection: how}
	for _, ref := range refs {
		before, err := eng.Limits(ctx, ref.ID)
		if err != nil {
			return nil, err
		}
		during, restore, err := limit(before)
		if err != nil {
			// A limit that would not lower the container's is a problem
			// of the fault's config, as partition's missing network is.
			return nil, exitcode.Wrap(fmt.Errorf("%s: %w", ref.Name, err), exitcode.Usage)
		}
		inj.Containers = append(inj.Containers, limitedContainer{containerRef: ref, Before: before, During: during, Restore: restore})
	}
	return inj, nil
}

// limitedContainer is one container whose limits an injection changes:
// the limits it had, the ones the fault sets, and the ones that restore
// it (Before, except where the engine cannot set "not set" back).
type limitedContainer struct {
	containerRef
	Before  docker.Limits `json:"before"`
	During  docker.Limits `json:"during"`
	Restore docker.Limits `json:"restore"`
}

// limitInjection changes containers' CPU or memory limits and restores
// them on revert, from the ledger after a crash too.
type limitInjection struct {
	Host       string             `json:"docker_host"`
	What       string             `json:"what"`
	Selection  string             `json:"selection"`
	Containers []limitedContainer `json:"containers"`
}

var _ Injection = (*limitInjection)(nil)

func (l *limitInjection) Describe() string {
	names := make([]string, len(l.Containers))
	for i, c := range l.Containers {
		names[i] = c.Name
	}
	return fmt.Sprintf("%s on container(s) %s (%s) on the docker engine at %s", l.What, strings.Join(names, ", "), l.Selection, l.Host)
}

func (l *limitInjection) Inject(ctx context.Context, env *Env) error {
	eng, err := engineAt(ctx, env, l.Host)
	if err != nil {
		return err
	}
	for _, c := range l.Containers {
		if err := eng.SetLimits(ctx, c.ID, c.During); err != nil {
			return fmt.Errorf("%s %s: %w", l.What, c.Name, err)
		}
	}
	return nil
}

func (l *limitInjection) Revert(ctx context.Context, env *Env) (string, error) {
	eng, err := engineAt(ctx, env, l.Host)
	if err != nil {
		return "", err
	}
	var notes []string
	var errs []error
	for _, c := range l.Containers {
		err := eng.SetLimits(ctx, c.ID, c.Restore)
		switch {
		case docker.IsNotFound(err):
			notes = append(notes, c.Name+" is gone")
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
		default:
			notes = append(notes, c.Name+" limits restored")
		}
	}
	if len(errs) > 0 {
		return "", errors.Join(errs...)
	}
	return strings.Join(notes, "; "), nil
}
