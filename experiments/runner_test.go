package experiments

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report"
)

// fakeTarget is the target, proxy and load of the runner's tests: the
// target is never reached (the tests give the runner a fake load).
const fakeTarget = `targets:
  external:
    api: http://127.0.0.1:9
proxies:
  - name: p
    upstream: ${targets.api}
load:
  rate: 100/s
  requests:
    - url: ${targets.api}/
`

// runnerPlan is a plan of three 5 s phases with one fault in the middle
// one and an abort condition on the error rate.
const runnerPlan = "name: runner-test\n" + fakeTarget + `steady_state:
  probes:
    - name: reads succeed
      expect: error_rate < 1%
phases:
  - name: baseline
    duration: 5s
  - name: fault
    duration: 5s
    faults:
      - kind: latency
        proxy: p
        latency: 100ms
  - name: recovery
    duration: 5s
hypothesis:
  recovery:
    - time_to_recover < 3s
abort:
  - error_rate < 20% over 2s
`

func parsePlan(t *testing.T, src string) *Plan {
	t.Helper()
	path := filepath.Join(t.TempDir(), "experiment.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	plan, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// fakeSession injects and reverts nothing; its faults fail as told, and a
// revert takes revertDelay, as one that waits for pods to be ready does.
type fakeSession struct {
	injectErr, revertErr error
	revertDelay          time.Duration
}

type fakeInjection struct{}

func (fakeInjection) Describe() string                                   { return "latency on proxy p" }
func (fakeInjection) Inject(context.Context, *chaos.Env) error           { return nil }
func (fakeInjection) Revert(context.Context, *chaos.Env) (string, error) { return "", nil }

func (s *fakeSession) Inject(ctx context.Context, f chaos.Fault) (*chaos.Entry, error) {
	if s.injectErr != nil {
		return nil, s.injectErr
	}
	return &chaos.Entry{Kind: "latency", Injection: fakeInjection{}}, nil
}

func (s *fakeSession) Revert(context.Context, *chaos.Entry) error {
	time.Sleep(s.revertDelay)
	return s.revertErr
}

// fakeLoadgen is a load that sends nothing: every interval it makes up
// 100 requests of 1 ms a second, of which failedAt(offset) percent fail; it stops when ctx
// is cancelled or its stages have run, as loadgen.Run does.
func fakeLoadgen(failedAt func(time.Duration) int) func(context.Context, loadgen.Options) (*loadgen.Result, error) {
	return func(ctx context.Context, o loadgen.Options) (*loadgen.Result, error) {
		length := o.Schedule.Duration()
		start := time.Now()
		o.OnStart(start)
		total := loadgen.NewStats(start, start)
		tick := time.NewTicker(o.Interval)
		defer tick.Stop()
		from := start
		for stopped := false; !stopped && from.Sub(start) < length; {
			now := time.Now()
			select {
			case now = <-tick.C:
			case <-ctx.Done():
				stopped = true
			}
			iv := loadgen.NewStats(from, now)
			ok, bad := seriesFor(iv, "", loadgen.OK), seriesFor(iv, "", loadgen.Error)
			failed := failedAt(now.Sub(start))
			// 100 requests a second, so a partial interval has fewer.
			for i := 0; i < int(100*now.Sub(from).Seconds()); i++ {
				s := ok
				if i < failed {
					s = bad
					s.Status[503]++
				} else {
					s.Status[200]++
				}
				_ = s.Latency.RecordValue(int64(time.Millisecond))
				_ = s.Service.RecordValue(int64(time.Millisecond))
			}
			o.OnInterval(iv)
			total.Merge(iv)
			from = now
		}
		return &loadgen.Result{Start: start, End: from, Total: total}, nil
	}
}

// TestRunnerOutcome runs the runner's parts (timeline, fault driver, abort
// watch, judge, journal) on a fake load and a fake chaos session, with a
// fake clock: no socket, no fault applied. Each case is one way a run
// ends, and several at once: the exit code follows the one precedence.
func TestRunnerOutcome(t *testing.T) {
	t.Parallel()
	errorsDuringFault := func(at time.Duration) int {
		if at > 5*time.Second && at <= 10*time.Second {
			return 50
		}
		return 0
	}
	noErrors := func(time.Duration) int { return 0 }
	revertFails := errors.New("toxiproxy: connection refused")
	cases := []struct {
		name      string
		failedAt  func(time.Duration) int
		session   fakeSession
		cancelAt  time.Duration // Ctrl-C; 0: none
		want      exitcode.Code
		wantAbort int // abort checks journaled
	}{
		{name: "completed", failedAt: noErrors, want: exitcode.OK},
		{name: "aborted", failedAt: errorsDuringFault, want: exitcode.Aborted, wantAbort: 1},
		{name: "a revert fails during an abort", failedAt: errorsDuringFault, session: fakeSession{revertErr: revertFails},
			want: exitcode.RevertFailed, wantAbort: 1},
		{name: "Ctrl-C during the fault", failedAt: noErrors, cancelAt: 7 * time.Second, want: exitcode.Interrupted},
		{name: "a revert fails during Ctrl-C", failedAt: noErrors, session: fakeSession{revertErr: revertFails},
			cancelAt: 7 * time.Second, want: exitcode.RevertFailed},
		{name: "a revert fails during an abort during Ctrl-C", failedAt: errorsDuringFault, session: fakeSession{revertErr: revertFails},
			cancelAt: 7*time.Second + 500*time.Millisecond, want: exitcode.RevertFailed, wantAbort: 1},
		{name: "an injection fails", failedAt: noErrors, session: fakeSession{injectErr: errors.New("no such proxy")}, want: exitcode.Runtime},
		{name: "Ctrl-C during an injection", failedAt: noErrors, session: fakeSession{injectErr: context.Canceled}, cancelAt: 5 * time.Second,
			want: exitcode.Interrupted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			plan := parsePlan(t, runnerPlan)
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if c.cancelAt > 0 {
					time.AfterFunc(c.cancelAt, cancel)
				}
				res := runFake(t, ctx, plan, &c.session, c.failedAt)
				if res.Code != c.want {
					t.Errorf("exit %d, want %d (%s)", res.Code, c.want, res.Message)
				}
				aborts := 0
				for _, ch := range res.Checks {
					if ch.Kind == "abort" {
						aborts++
					}
				}
				if aborts != c.wantAbort {
					t.Errorf("%d abort checks journaled, want %d: %+v", aborts, c.wantAbort, res.Checks)
				}
				// The summary and `faultline report` agree on every
				// phase's rate, also when the run stopped early.
				run, err := report.OpenRun(res.Journal)
				if err != nil {
					t.Fatal(err)
				}
				for i, p := range res.Phases {
					if got := run.PhaseStats(i).Rate(""); p.Requests > 0 && math.Abs(got-p.Rate) > p.Rate/1000 {
						t.Errorf("phase %s: rate %.1f/s in the summary, %.1f/s from the journal", p.Name, p.Rate, got)
					}
				}
				// After an abort the load stops right after the revert: it
				// cannot tell how long recovery takes.
				want := map[bool]Verdict{true: Inconclusive, false: Held}[c.wantAbort > 0]
				judged := false
				for _, ch := range res.Checks {
					if ch.Expression == "time_to_recover < 3s" {
						judged = true
						if ch.Verdict != string(want) {
							t.Errorf("time_to_recover: %s (%s), want %s", ch.Verdict, ch.Detail, want)
						}
					}
				}
				if (c.want == exitcode.OK || c.want == exitcode.Aborted) && !judged {
					t.Error("time_to_recover was not judged")
				}
			})
		})
	}
}

// runFake runs plan through the runner with a fake session and load.
func runFake(t *testing.T, ctx context.Context, plan *Plan, session faultSession, failedAt func(time.Duration) int) *Result {
	t.Helper()
	r, err := newRunner(plan, RunOptions{Dir: t.TempDir(), LedgerPath: filepath.Join(t.TempDir(), "ledger.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	r.startLoad = fakeLoadgen(failedAt)
	r.faults.session = session
	for _, f := range plan.Faults {
		if err := chaos.Check(f.Fault); err != nil {
			t.Fatal(err)
		}
	}
	spec, err := loadSpec(plan, r.env.resolve, "")
	if err != nil {
		t.Fatal(err)
	}
	opts, err := spec.Options()
	if err != nil {
		t.Fatal(err)
	}
	r.drive(ctx, opts)
	r.conclude(ctx)
	return r.res
}

// TestInterruptedSteadyStateProbe is Ctrl-C while an HTTP probe of the
// steady state waits for its answer: the run is interrupted (130), not a
// steady state that did not hold (3), and the probe says it was cut short.
func TestInterruptedSteadyStateProbe(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		cancel() // Ctrl-C, while the probe waits
		<-req.Context().Done()
	}))
	defer srv.Close()
	src := strings.Replace(runnerPlan, "    - name: reads succeed\n", "    - name: gateway answers\n      http:\n        url: "+srv.URL+"/\n    - name: reads succeed\n", 1)
	src = strings.Replace(src, "    duration: 5s", "    duration: 500ms", -1)
	res := runFake(t, ctx, parsePlan(t, src), &fakeSession{}, func(time.Duration) int { return 0 })
	if res.Code != exitcode.Interrupted {
		t.Errorf("exit %d, want 130 (%s)", res.Code, res.Message)
	}
	for _, ch := range res.Checks {
		if ch.Kind == "steady_state_before" && ch.Name == "gateway answers" && ch.Verdict != string(Inconclusive) {
			t.Errorf("the interrupted probe %s: %s", ch.Verdict, ch.Detail)
		}
	}
}

// slowRevertPlan: the first fault's revert, due at 10 s, holds the
// timeline up while the second fault (10-13 s) comes due; the load ends at
// 15 s.
const slowRevertPlan = "name: slow-revert\n" + fakeTarget + `phases:
  - name: baseline
    duration: 5s
  - name: first
    duration: 5s
    faults:
      - {kind: latency, proxy: p, latency: 100ms}
  - name: second
    duration: 3s
    faults:
      - {kind: latency, proxy: p, latency: 200ms}
  - name: last
    duration: 2s
hypothesis:
  first: [error_rate < 1%]
  second: [error_rate < 1%]
`

// TestFaultNotInEffect: a phase whose fault was in effect at no moment of
// it (injected only after it ended, or never: the load ended first) is not
// judged on its fault-free data: its hypotheses are inconclusive and say
// why, and a fault never injected is named in the journal and the summary.
// A fault that held for part of its phase is judged, and the detail says
// how much.
// Before, the injection left when the load ended was dropped silently (or
// carried out after the load, as Go's select chose) and the phase held.
func TestFaultNotInEffect(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		revert      time.Duration
		want        Verdict
		wantDetail  string
		notInjected bool
	}{
		{name: "injected late", revert: 1500 * time.Millisecond, want: Held,
			wantDetail: "error_rate = 0%, below 1%; second.faults[0] latency took effect at 11.5s, 1.5s after it was due: for 50% of its window"},
		{name: "injected after its phase", revert: 4 * time.Second, want: Inconclusive,
			wantDetail: "second.faults[0] latency took effect at 14s, after the phase ended at 13s"},
		{name: "never injected", revert: 6 * time.Second, want: Inconclusive,
			wantDetail: "second.faults[0] latency was never injected", notInjected: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			plan := parsePlan(t, slowRevertPlan)
			synctest.Test(t, func(t *testing.T) {
				res := runFake(t, context.Background(), plan, &fakeSession{revertDelay: c.revert}, func(time.Duration) int { return 0 })
				if want := map[Verdict]exitcode.Code{Held: exitcode.OK, Inconclusive: exitcode.Failed}[c.want]; res.Code != want {
					t.Errorf("exit %d (%s), want %d", res.Code, res.Message, want)
				}
				verdicts := map[string]string{}
				for _, ch := range res.Checks {
					if ch.Kind != "hypothesis" {
						continue
					}
					verdicts[ch.Phase] = ch.Verdict
					if ch.Phase == "second" && !strings.Contains(ch.Detail, c.wantDetail) {
						t.Errorf("second: %q, want it to say %q", ch.Detail, c.wantDetail)
					}
				}
				if verdicts["first"] != string(Held) || verdicts["second"] != string(c.want) {
					t.Errorf("verdicts %v, want first held and second %s", verdicts, c.want)
				}
				named := false
				for _, f := range res.Faults {
					if f.Event == "not_injected" {
						named = f.Label == "second.faults[0] latency" && strings.Contains(f.Note, "the load ended")
					}
				}
				if named != c.notInjected {
					t.Errorf("not_injected recorded: %v, want %v: %+v", named, c.notInjected, res.Faults)
				}
				var summary strings.Builder
				if err := WriteSummary(&summary, res); err != nil {
					t.Fatal(err)
				}
				if c.notInjected && !strings.Contains(summary.String(), "not_injected") {
					t.Errorf("the summary does not name the fault not injected:\n%s", summary.String())
				}
			})
		})
	}
}
