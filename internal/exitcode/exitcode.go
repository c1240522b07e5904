// Package exitcode holds faultline's one table of process exit codes and the
// way libraries attach a code to an error so that main resolves it once.
package exitcode

import (
	"context"
	"errors"
	"fmt"
)

// Code is a process exit status with a documented meaning.
type Code int

// The exit codes, documented in the README and in every command's --help.
const (
	OK             Code = 0   // ran, and every hypothesis or threshold held
	Failed         Code = 1   // ran, and a hypothesis or threshold did not hold
	Usage          Code = 2   // usage or experiment-file error: nothing was run
	SteadyState    Code = 3   // the steady state did not hold before any fault: nothing injected
	Aborted        Code = 4   // aborted by an abort condition (faults reverted)
	Runtime        Code = 5   // runtime error (target unreachable, Docker or Toxiproxy failure)
	RevertFailed   Code = 6   // a fault could not be reverted: the ledger says what may remain
	Interrupted    Code = 130 // interrupted by Ctrl-C or SIGTERM, faults reverted
	unknownRuntime      = Runtime
)

// Table is the exit-code table as printed in --help and the README.
const Table = `EXIT STATUS
  0    ran, and every hypothesis / threshold held
  1    ran, and a hypothesis or threshold did not hold (the SLO gate)
  2    usage or experiment-file error: nothing was run
  3    the steady state did not hold before any fault: nothing was injected
  4    aborted by an abort condition (faults reverted)
  5    runtime error (target unreachable, Docker/Toxiproxy failure)
  6    a fault could not be reverted: the system may still be faulted, the ledger says what
  130  interrupted (Ctrl-C / SIGTERM), faults reverted`

type codedError struct {
	err  error
	code Code
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

// Wrap attaches code to err. A nil err stays nil.
func Wrap(err error, code Code) error {
	if err == nil {
		return nil
	}
	return &codedError{err: err, code: code}
}

// Errorf formats an error and attaches code to it.
func Errorf(code Code, format string, args ...any) error {
	return &codedError{err: fmt.Errorf(format, args...), code: code}
}

// Has reports whether err carries an exit code of ours anywhere in its
// chain (k6's errext.HasExitCode). A cancelled context carries none: Of
// turns it into Interrupted by itself.
func Has(err error) bool {
	var ce *codedError
	return errors.As(err, &ce)
}

// WrapIfNone attaches code to err unless err already carries one or is a
// cancellation, which Of resolves to Interrupted; a nil err stays nil. A
// library calls it where it knows a default meaning for errors from below
// ("a failure here is a runtime error") without hiding a more specific
// code attached further down.
func WrapIfNone(err error, code Code) error {
	if err == nil || Has(err) || errors.Is(err, context.Canceled) {
		return err
	}
	return &codedError{err: err, code: code}
}

// Of resolves the exit code of err: nil is OK, an error carrying a code
// yields the outermost code, a cancelled context yields Interrupted and
// anything else is a runtime error.
func Of(err error) Code {
	if err == nil {
		return OK
	}
	var ce *codedError
	if errors.As(err, &ce) {
		return ce.code
	}
	if errors.Is(err, context.Canceled) {
		return Interrupted
	}
	return unknownRuntime
}
