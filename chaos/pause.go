package chaos

import (
	"context"

	"github.com/faultline-dev/faultline/chaos/docker"
)

func init() {
	registerContainerAction[pauseAction]("pause", "freeze every process of containers; revert unpauses them", containerOps{
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

// pauseAction has no fields of its own.
type pauseAction struct{}

func (pauseAction) validate() []error                 { return nil }
func (pauseAction) describe() string                  { return "" }
func (pauseAction) configure(inj *containerInjection) {}
