package chaos

import (
	"context"

	"github.com/faultline-dev/faultline/chaos/docker"
)

func init() {
	registerContainerAction(containerAction{
		name:     "restart",
		summary:  "restart containers (stop with timeout, default 10s, then start); revert starts any left down",
		fields:   []string{"timeout"},
		validate: validateStopTimeout,
		describe: func(s Spec) string { return "restart" + graceOf(s) },
		do: func(ctx context.Context, eng *docker.Engine, c *containerInjection, id string) error {
			return eng.Restart(ctx, id, c.Timeout)
		},
		undo: startIfDown,
	})
}
