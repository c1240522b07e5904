package chaos

import (
	"context"
	"fmt"
	"time"

	"github.com/faultline-dev/faultline/chaos/docker"
)

func init() {
	registerContainerAction[graceAction]("stop", "stop containers (SIGTERM, then SIGKILL after timeout, default 10s); revert starts them again", containerOps{
		do: func(ctx context.Context, eng *docker.Engine, c *containerInjection, id string) error {
			return eng.Stop(ctx, id, c.Timeout)
		},
		undo: startIfDown,
	})
}

// graceAction is the field of stop and restart: how long the container
// has between SIGTERM and SIGKILL.
type graceAction struct {
	Timeout time.Duration `yaml:"timeout,omitempty" doc:"stop, restart: the grace period between SIGTERM and SIGKILL (default 10s, rounded up to whole seconds)"`
}

func (g graceAction) validate() []error {
	if g.Timeout < 0 {
		return []error{fieldErrorf("timeout", "timeout %s must not be negative", g.Timeout)}
	}
	return nil
}

// describe names the grace period, when one is given.
func (g graceAction) describe() string {
	if g.Timeout > 0 {
		return fmt.Sprintf(" (timeout %s)", g.Timeout)
	}
	return ""
}

func (g graceAction) configure(inj *containerInjection) { inj.Timeout = g.Timeout }
