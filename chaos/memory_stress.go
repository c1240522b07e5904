package chaos

import (
	"context"
	"fmt"
	"strconv"
)

func init() {
	registerKind(kind{
		name:         "memory_stress",
		group:        GroupContainer,
		summary:      "keep size of memory resident inside containers (faultline stress memory, copied in and exec'd); revert stops it and removes the copy",
		newFault:     func() Fault { return new(memoryStressFault) },
		newInjection: func() Injection { return new(stressInjection) },
	})
}

// memoryStressFault runs `faultline stress memory` inside containers: the
// memory is charged to their cgroups, so a container near its limit is
// reclaimed from or meets the OOM killer, as with a leaking neighbour.
type memoryStressFault struct {
	Target       containerTarget `yaml:",inline"`
	StressMemory `yaml:",inline"`
	StressLimit  `yaml:",inline"`
}

var _ Fault = (*memoryStressFault)(nil)

func (f *memoryStressFault) Kind() string { return "memory_stress" }

func (f *memoryStressFault) Validate() []error {
	errs := f.Target.validate()
	if f.Size <= 0 {
		errs = append(errs, fieldErrorf("size", "size %s: want a size with its unit, such as 256MiB", Size(f.Size)))
	}
	return append(errs, validateStressLimit(f.MaxDuration)...)
}

func (f *memoryStressFault) what() string { return fmt.Sprintf("memory_stress %s", Size(f.Size)) }

func (f *memoryStressFault) Describe() string { return f.what() + " on " + f.Target.describe() }

func (f *memoryStressFault) Resolve(ctx context.Context, env *Env) (Injection, error) {
	args := []string{"memory", "--size", strconv.FormatInt(int64(f.Size), 10) + "B"}
	return resolveStress(ctx, env, f.Target, f.what(), args, f.MaxDuration)
}
