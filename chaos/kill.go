package chaos

import (
	"context"
	"fmt"

	"github.com/faultline-dev/faultline/chaos/docker"
)

func init() {
	registerContainerAction(containerAction{
		name:    "kill",
		summary: "send a signal (default SIGKILL) to containers; revert starts them again",
		fields:  []string{"signal"},
		validate: func(s Spec) []error {
			if err := checkSignal(killSignal(s)); err != nil {
				return []error{err}
			}
			return nil
		},
		describe: func(s Spec) string { return fmt.Sprintf("kill (%s)", killSignal(s)) },
		do: func(ctx context.Context, eng *docker.Engine, c *containerInjection, id string) error {
			return eng.Kill(ctx, id, c.Signal)
		},
		undo: startIfDown,
	})
}
