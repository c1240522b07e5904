package chaos

import (
	"context"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/faultline-dev/faultline/chaos/docker"
)

func init() {
	registerKind(kind{
		name:         "memory_limit",
		group:        GroupContainer,
		summary:      "lower containers' memory limit to memory, without swap (Docker ContainerUpdate); revert restores the limits they had",
		newFault:     func() Fault { return new(memoryLimitFault) },
		newInjection: func() Injection { return new(limitInjection) },
	})
}

const (
	// minMemoryLimit is the smallest memory limit the engine accepts.
	minMemoryLimit = 6 << 20
	// unlimitedMemory is the kernel's "no limit" for a cgroup's memory
	// (PAGE_COUNTER_MAX pages of 4 KiB): what restores a container that
	// had none, since the engine cannot set its limit back to "not set".
	unlimitedMemory = 9223372036854771712
)

// memoryLimitFault squeezes containers: their processes get at most
// Memory bytes, and no swap beyond it, so a service that needs more is
// reclaimed from, slows down, or is killed by the kernel's OOM killer.
type memoryLimitFault struct {
	Target containerTarget `yaml:",inline"`
	Memory memoryBytes     `yaml:"memory,omitempty" doc:"the memory limit, with its unit (required; at least 6MiB), such as 256MiB; it must be below the container's current limit"`
}

var _ Fault = (*memoryLimitFault)(nil)

func (f *memoryLimitFault) Kind() string { return "memory_limit" }

func (f *memoryLimitFault) Validate() []error {
	errs := f.Target.validate()
	if f.Memory < minMemoryLimit {
		errs = append(errs, fieldErrorf("memory", "memory %s: want a limit of at least 6MiB, such as 256MiB (the engine refuses less)", Size(f.Memory)))
	}
	return errs
}

func (f *memoryLimitFault) what() string { return fmt.Sprintf("memory_limit %s", Size(f.Memory)) }

func (f *memoryLimitFault) Describe() string { return f.what() + " on " + f.Target.describe() }

func (f *memoryLimitFault) Resolve(ctx context.Context, env *Env) (Injection, error) {
	return resolveLimits(ctx, env, f.Target, f.what(), f.limit)
}

// limit sets memory and memory+swap to the limit, so that nothing is
// swapped out instead of squeezed; it restores both as they were, or to
// unlimited (the kernel's no-limit value) when they were not set.
func (f *memoryLimitFault) limit(before docker.Limits) (during, restore docker.Limits, err error) {
	m := int64(f.Memory)
	if before.Memory > 0 && m >= before.Memory {
		return during, restore, fieldErrorf("memory", "already limited to %s: memory %s would not lower it", Size(before.Memory), Size(m))
	}
	restore = docker.Limits{Memory: before.Memory, MemorySwap: before.MemorySwap}
	if restore.Memory == 0 {
		restore.Memory = unlimitedMemory
	}
	if restore.MemorySwap == 0 {
		// Not -1: the engine's runc then leaves the kernel's swap limit at
		// the squeezed value, below the memory limit, and the kernel
		// refuses the memory limit.
		restore.MemorySwap = unlimitedMemory
	}
	return docker.Limits{Memory: m, MemorySwap: m}, restore, nil
}

// memoryBytes is a size that must carry its unit (memory_limit's memory,
// the memory stress kinds' size): "memory: 10" is more likely a mistake
// (10 MiB meant) than 10 bytes.
type memoryBytes Size

// UnmarshalYAML accepts "256MiB", not "256".
func (m *memoryBytes) UnmarshalYAML(n *yaml.Node) error {
	if strings.Trim(strings.TrimSpace(n.Value), "0123456789.+-") == "" {
		return fmt.Errorf("%q has no unit: want a size such as 256MiB or 1GB", n.Value)
	}
	s, err := ParseSize(n.Value)
	if err != nil {
		return err
	}
	*m = memoryBytes(s)
	return nil
}

// MarshalYAML writes the size with its unit.
func (m memoryBytes) MarshalYAML() (any, error) { return Size(m).String(), nil }

// Type names the value for --help.
func (m *memoryBytes) Type() string { return "size" }
