package docker

import (
	"context"
	"fmt"

	"github.com/docker/docker/api/types/container"
)

// Limits are a container's CPU and memory limits as the engine reports
// them (its HostConfig). Zero means "not set" (no limit); -1 in CPUQuota or
// MemorySwap means "unlimited", set explicitly.
type Limits struct {
	NanoCPUs   int64 `json:"nano_cpus,omitempty"`  // CPUs, in billionths (--cpus)
	CPUQuota   int64 `json:"cpu_quota,omitempty"`  // CFS quota, µs per CPUPeriod (--cpu-quota)
	CPUPeriod  int64 `json:"cpu_period,omitempty"` // CFS period, µs (--cpu-period)
	Memory     int64 `json:"memory,omitempty"`     // bytes (--memory)
	MemorySwap int64 `json:"memory_swap,omitempty"`
}

// Limits returns the container's CPU and memory limits.
func (e *Engine) Limits(ctx context.Context, id string) (Limits, error) {
	c, err := e.cli.ContainerInspect(ctx, id)
	if err != nil {
		return Limits{}, fmt.Errorf("inspect container %s: %w", id, err)
	}
	if c.HostConfig == nil {
		return Limits{}, nil
	}
	r := c.HostConfig.Resources
	return Limits{NanoCPUs: r.NanoCPUs, CPUQuota: r.CPUQuota, CPUPeriod: r.CPUPeriod, Memory: r.Memory, MemorySwap: r.MemorySwap}, nil
}

// SetLimits changes a running container's limits (ContainerUpdate). A zero
// field leaves that limit as it is: the engine cannot set a limit back to
// "not set", only to another value (-1 for an unlimited CPU quota or swap).
func (e *Engine) SetLimits(ctx context.Context, id string, l Limits) error {
	_, err := e.cli.ContainerUpdate(ctx, id, container.UpdateConfig{Resources: container.Resources{
		NanoCPUs: l.NanoCPUs, CPUQuota: l.CPUQuota, CPUPeriod: l.CPUPeriod, Memory: l.Memory, MemorySwap: l.MemorySwap,
	}})
	if err != nil {
		return fmt.Errorf("update limits of container %s: %w", id, err)
	}
	return nil
}
