package chaos

import (
	"context"
	"fmt"

	"github.com/faultline-dev/faultline/chaos/docker"
)

func init() {
	registerContainerAction[killAction]("kill", "send a signal (default SIGKILL) to containers; revert starts them again", containerOps{
		do: func(ctx context.Context, eng *docker.Engine, c *containerInjection, id string) error {
			return eng.Kill(ctx, id, c.Signal)
		},
		undo: startIfDown,
	})
}

// killAction signals the containers' main process.
type killAction struct {
	Signal string `yaml:"signal,omitempty" default:"SIGKILL" doc:"the signal to send to the containers' main process"`
}

func (k killAction) signal() string { return signalOr(k.Signal, "SIGKILL") }

func (k killAction) validate() []error {
	if err := checkSignal(k.signal()); err != nil {
		return []error{&FieldError{Field: "signal", Err: err}}
	}
	return nil
}

func (k killAction) describe() string                  { return fmt.Sprintf(" (%s)", k.signal()) }
func (k killAction) configure(inj *containerInjection) { inj.Signal = k.signal() }
