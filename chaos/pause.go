package chaos

import (
	"context"

	"github.com/faultline-dev/faultline/chaos/docker"
)

func init() {
	registerContainerAction(containerAction{
		name:     "pause",
		summary:  "freeze every process of containers; revert unpauses them",
		describe: func(Spec) string { return "pause" },
		do: func(ctx context.Context, eng *docker.Engine, c *containerInjection, id string) error {
			return eng.Pause(ctx, id)
		},
		undo: func(ctx context.Context, eng *docker.Engine, id, state string) (string, error) {
			if state != "paused" {
				return "not paused (" + state + ")", nil
			}
			if err := eng.Unpause(ctx, id); err != nil {
				return "", err
			}
			return "unpaused", nil
		},
	})
}
