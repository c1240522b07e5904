package experiments

import "github.com/faultline-dev/faultline/internal/exitcode"

// ending is how a run ended: its exit code, the word the journal records
// for it and the message said beside it. Every part of the runner reports
// what went wrong through settle; nothing else writes the exit code.
type ending struct {
	code    exitcode.Code
	message string
}

// precedence orders the exit codes by how much each says about the state
// a run left behind. When several things go wrong in one run (a fault
// fails to revert during an abort during Ctrl-C), the highest one is the
// run's exit code:
//
//   - 6, a fault could not be reverted: the system may still be faulted,
//     which matters more than anything else to whoever reads the result;
//   - 130, interrupted: the user stopped the run, and whatever failed after
//     the cancellation (a probe, an injection, the load) failed because of it;
//   - 2, the experiment turned out invalid once its references were
//     resolved: nothing ran;
//   - 5, runtime error: faultline could not do what the file asks, so no
//     verdict about the system stands;
//   - 4, an abort condition broke;
//   - 3, the steady state did not hold before any fault;
//   - 1, a hypothesis, probe or threshold did not hold;
//   - 0, completed.
//
// Between two reports of the same code the first stands: it is the
// cause, and the later ones its consequences.
var precedence = []exitcode.Code{
	exitcode.OK, exitcode.Failed, exitcode.SteadyState, exitcode.Aborted,
	exitcode.Runtime, exitcode.Usage, exitcode.Interrupted, exitcode.RevertFailed,
}

func rankOf(c exitcode.Code) int {
	for i, x := range precedence {
		if x == c {
			return i
		}
	}
	return len(precedence) // a code the table lacks is never hidden
}

// settle records that something ending with code happened, and reports
// whether it is now the run's outcome.
func (e *ending) settle(code exitcode.Code, message string) bool {
	if rankOf(code) <= rankOf(e.code) {
		return false
	}
	e.code, e.message = code, message
	return true
}

// stopped reports whether the run has stopped early: anything but a
// verdict on the data (OK or Failed).
func (e *ending) stopped() bool { return e.code != exitcode.OK && e.code != exitcode.Failed }

// word is the outcome as the journal records it.
func (e *ending) word() string {
	switch e.code {
	case exitcode.OK:
		return "completed"
	case exitcode.Failed:
		return "completed: a hypothesis did not hold"
	case exitcode.Usage:
		return "invalid experiment"
	case exitcode.SteadyState:
		return "steady state did not hold"
	case exitcode.Aborted:
		return "aborted"
	case exitcode.RevertFailed:
		return "a fault could not be reverted"
	case exitcode.Interrupted:
		return "interrupted"
	default:
		return "runtime error"
	}
}
