package chaos

import (
	"context"
	"fmt"

	"github.com/faultline-dev/faultline/chaos/docker"
)

func init() {
	registerContainerAction(containerAction{
		name:     "stop",
		summary:  "stop containers (SIGTERM, then SIGKILL after timeout, default 10s); revert starts them again",
		fields:   []string{"timeout"},
		validate: validateStopTimeout,
		describe: func(s Spec) string { return "stop" + graceOf(s) },
		do: func(ctx context.Context, eng *docker.Engine, c *containerInjection, id string) error {
			return eng.Stop(ctx, id, c.Timeout)
		},
		undo: startIfDown,
	})
}

func validateStopTimeout(s Spec) []error {
	if t := timeoutOr(s, 0); t < 0 {
		return []error{fmt.Errorf("timeout %s must not be negative", t)}
	}
	return nil
}

// graceOf describes a stop grace period, when one is given.
func graceOf(s Spec) string {
	if t := timeoutOr(s, 0); t > 0 {
		return fmt.Sprintf(" (timeout %s)", t)
	}
	return ""
}
