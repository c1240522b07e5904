package experiments

import (
	"fmt"
	"testing"

	"github.com/faultline-dev/faultline/internal/exitcode"
)

// TestEndingPrecedence checks the one rule for a run's exit code when
// several things go wrong in one run, in the order they happen.
func TestEndingPrecedence(t *testing.T) {
	t.Parallel()
	const (
		ok, failed, usage, steady = exitcode.OK, exitcode.Failed, exitcode.Usage, exitcode.SteadyState
		aborted, runtime, revert  = exitcode.Aborted, exitcode.Runtime, exitcode.RevertFailed
		interrupted               = exitcode.Interrupted
	)
	cases := []struct {
		name   string
		events []exitcode.Code
		want   exitcode.Code
	}{
		{"nothing happened", nil, ok},
		{"a hypothesis failed", []exitcode.Code{failed}, failed},
		{"a revert fails during an abort during Ctrl-C", []exitcode.Code{interrupted, aborted, revert}, revert},
		{"Ctrl-C, then the revert fails", []exitcode.Code{interrupted, revert}, revert},
		{"a revert fails, then Ctrl-C", []exitcode.Code{revert, interrupted}, revert},
		{"Ctrl-C during a steady-state probe", []exitcode.Code{steady, interrupted}, interrupted},
		{"Ctrl-C during an injection", []exitcode.Code{runtime, interrupted}, interrupted},
		{"abort, then Ctrl-C", []exitcode.Code{aborted, interrupted}, interrupted},
		{"abort, then the hypotheses fail", []exitcode.Code{aborted, failed}, aborted},
		{"an injection fails, then an abort", []exitcode.Code{runtime, aborted}, runtime},
		{"an abort, then the load fails", []exitcode.Code{aborted, runtime}, runtime},
		{"the steady state fails, then an abort", []exitcode.Code{steady, aborted}, aborted},
		{"a fault invalid once resolved", []exitcode.Code{usage}, usage},
		{"an abort, then a proxy cannot be deleted", []exitcode.Code{aborted, revert}, revert},
	}
	for _, c := range cases {
		var e ending
		for _, code := range c.events {
			e.settle(code, fmt.Sprint("exit ", int(code)))
		}
		if e.code != c.want {
			t.Errorf("%s: exit %d, want %d", c.name, e.code, c.want)
		}
	}
}

// TestEndingFirstCauseStands checks that, between two reports of one code,
// the first message stands: it names the cause.
func TestEndingFirstCauseStands(t *testing.T) {
	t.Parallel()
	var e ending
	if !e.settle(exitcode.Aborted, "abort: error_rate < 20%") {
		t.Fatal("the first abort did not settle the ending")
	}
	if e.settle(exitcode.Aborted, "abort: p99 < 1s") || e.settle(exitcode.Failed, "") {
		t.Error("a later report of the same or a lesser code replaced the first")
	}
	if e.message != "abort: error_rate < 20%" || e.word() != "aborted" {
		t.Errorf("ending %+v (%s)", e, e.word())
	}
}
