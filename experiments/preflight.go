package experiments

import (
	"context"
	"errors"
	"strings"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/internal/exitcode"
)

// preflight resolves the faults on Docker containers once the targets are
// up, before any proxy, traffic or injection: what only the engine knows
// (a container with no network for partition to cut, or not on the named
// one; a limit that would not lower the container's) is a problem of the
// file, reported at the field's file:line:col with exit code 2, as
// validation reports the rest. Resolving touches nothing. Other errors
// (no running container matches yet, the engine unreachable) are left to
// the injection, which reports them as it always has: a container may be
// started by the time its fault is due.
func (e *environment) preflight(ctx context.Context) error {
	var problems Problems
	for _, f := range e.plan.Faults {
		if faultGroup(f) != chaos.GroupContainer {
			continue
		}
		if _, err := e.session.Plan(ctx, f.Fault); err != nil && exitcode.Of(err) == exitcode.Usage {
			problems = append(problems, e.plan.faultProblem(f, err))
		}
	}
	if len(problems) > 0 {
		return exitcode.Wrap(problems, exitcode.Usage)
	}
	return nil
}

// faultProblem places a problem with fault f (a chaos.FieldError names its
// field) in the file, worded as validation words it.
func (p *Plan) faultProblem(f *PlannedFault, err error) Problem {
	path := f.path
	var fe *chaos.FieldError
	if errors.As(err, &fe) {
		path = join(path, fe.Field)
	}
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	return Problem{File: p.File, Pos: posOf(p.pos, path), Msg: displayPath(path) + ": " + msg}
}
