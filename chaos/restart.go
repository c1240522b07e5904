package chaos

import (
	"context"

	"github.com/faultline-dev/faultline/chaos/docker"
)

func init() {
	registerContainerAction[graceAction]("restart", "restart containers (stop with timeout, default 10s, then start); revert starts any left down", containerOps{
		do: func(ctx context.Context, eng *docker.Engine, c *containerInjection, id string) error {
			return eng.Restart(ctx, id, c.Timeout)
		},
		undo: startIfDown,
	})
}
