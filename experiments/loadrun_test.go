package experiments

import (
	"testing"
	"time"

	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/loadgen"
)

// A plain load's exit code: an interruption first, then a target that never
// answered, then the thresholds.
func TestLoadCodePrecedence(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	answered := loadgen.NewStats(t0, t0.Add(time.Second))
	ok := seriesFor(answered, "", loadgen.OK)
	ok.Status[200] = 1
	_ = ok.Latency.RecordValue(int64(time.Millisecond))
	refused := loadgen.NewStats(t0, t0.Add(time.Second))
	bad := seriesFor(refused, "", loadgen.Error)
	bad.Errors[loadgen.ErrorClasses[0]] = 1
	_ = bad.Latency.RecordValue(int64(time.Millisecond))
	held := []loadgen.ThresholdResult{{Held: true}}
	failed := []loadgen.ThresholdResult{{Held: false}}
	cases := []struct {
		name        string
		total       *loadgen.Stats
		interrupted bool
		verdicts    []loadgen.ThresholdResult
		want        exitcode.Code
		wantErr     bool
	}{
		{"held", answered, false, held, exitcode.OK, false},
		{"no thresholds", answered, false, nil, exitcode.OK, false},
		{"a threshold failed", answered, false, failed, exitcode.Failed, false},
		{"unreachable beats the thresholds", refused, false, failed, exitcode.Runtime, true},
		{"interrupted beats everything", refused, true, failed, exitcode.Interrupted, false},
	}
	for _, c := range cases {
		code, err := loadCode(&loadgen.Result{Total: c.total, Interrupted: c.interrupted}, c.verdicts)
		if code != c.want || (err != nil) != c.wantErr || (err != nil && exitcode.Of(err) != c.want) {
			t.Errorf("%s: code %d, error %v; want %d (error %v)", c.name, code, err, c.want, c.wantErr)
		}
	}
}
