package experiments

import (
	"context"
	"fmt"
	"time"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/report/journal"
)

// faultSession is what the fault driver needs of chaos.Session: the ledger
// is written before anything is touched.
type faultSession interface {
	Inject(ctx context.Context, f chaos.Fault) (*chaos.Entry, error)
	Revert(ctx context.Context, e *chaos.Entry) error
}

var _ faultSession = (*chaos.Session)(nil)

// faultDriver injects and reverts the plan's faults, and records each
// event in the journal and on the log.
type faultDriver struct {
	session    faultSession
	faults     []*PlannedFault
	active     map[*PlannedFault]*chaos.Entry
	journal    *runJournal
	say        func(format string, args ...any)
	ledgerPath string // named in a revert failure, for cleanup
	// lastRevert is when the last fault was reverted, after the start of
	// the load; negative until one is.
	lastRevert time.Duration
	// injectedAt is when each injected fault took effect (its injection
	// returned), after the start of the load.
	injectedAt map[*PlannedFault]time.Duration
}

func newFaultDriver(faults []*PlannedFault, j *runJournal, say func(string, ...any), ledgerPath string) *faultDriver {
	return &faultDriver{faults: faults, active: map[*PlannedFault]*chaos.Entry{}, journal: j, say: say, ledgerPath: ledgerPath, lastRevert: -1,
		injectedAt: map[*PlannedFault]time.Duration{}}
}

// inject applies f. Whatever part of it applied is undone by the session
// when it fails; the error carries its exit code (runtime by default).
func (d *faultDriver) inject(ctx context.Context, f *PlannedFault) error {
	entry, err := d.session.Inject(ctx, f.Fault)
	if err != nil {
		d.journal.fault(journal.Fault{Label: f.Label(), Kind: f.Kind, Event: "inject_failed", Error: err.Error()})
		return exitcode.WrapIfNone(fmt.Errorf("inject %s: %w", f.Label(), err), exitcode.Runtime)
	}
	d.active[f] = entry
	d.injectedAt[f] = d.journal.clock.offset()
	d.journal.fault(journal.Fault{Label: f.Label(), Kind: f.Kind, Event: "injected", Describe: entry.Injection.Describe()})
	d.say("injected %s", entry.Injection.Describe())
	return nil
}

// revert undoes f if it is active. A revert runs even when the run was
// cancelled; a failure carries exitcode.RevertFailed.
func (d *faultDriver) revert(f *PlannedFault) error {
	entry, ok := d.active[f]
	if !ok {
		return nil
	}
	delete(d.active, f)
	err := d.session.Revert(context.WithoutCancel(context.Background()), entry)
	jf := journal.Fault{Label: f.Label(), Kind: f.Kind, Event: "reverted", Describe: entry.Injection.Describe()}
	if err != nil {
		jf.Event, jf.Error = "revert_failed", err.Error()
		err = exitcode.Errorf(exitcode.RevertFailed, "REVERT FAILED: %s: %v; it may still be in effect, the ledger %s lists it (faultline chaos cleanup)",
			entry.Injection.Describe(), err, d.ledgerPath)
		d.say("%v", err)
	} else {
		jf.Note = entry.RevertNote
		d.say("reverted %s: %s", entry.Injection.Describe(), entry.RevertNote)
	}
	if d.journal.clock.started() {
		d.lastRevert = d.journal.clock.offset()
	}
	d.journal.fault(jf)
	return err
}

// revertAll undoes every fault still active, at once, and returns the
// first failure.
func (d *faultDriver) revertAll() error {
	var first error
	for _, f := range d.faults {
		if err := d.revert(f); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// activeKinds lists the kinds of the faults in effect, for the display.
func (d *faultDriver) activeKinds() []string {
	var kinds []string
	for _, f := range d.faults {
		if _, ok := d.active[f]; ok {
			kinds = append(kinds, f.Kind)
		}
	}
	return kinds
}

// reverted reports whether any fault was reverted while the load ran.
func (d *faultDriver) reverted() bool { return d.lastRevert >= 0 }

// noteNotInjected records, in the journal and on the log, every fault that
// was not injected, and why. It is for a run that was not stopped: in one
// that was (a refused injection among them), the ending says why.
func (d *faultDriver) noteNotInjected(why string) {
	for _, f := range d.faults {
		if _, ok := d.injectedAt[f]; ok {
			continue
		}
		d.journal.fault(journal.Fault{Label: f.Label(), Kind: f.Kind, Event: "not_injected", Note: why})
		d.say("not injected: %s: %s", f.Label(), why)
	}
}

// inEffect says how phase p's faults held during it. absent lists those
// in effect at no moment of it: never injected, or injected only once their
// window had ended (a revert before them that waited for pods can hold the
// timeline up that long). late lists those that took effect more than a
// tenth of their window after they were due, with how much of it they
// held.
func (d *faultDriver) inEffect(p *Phase) (absent, late []string) {
	round := func(t time.Duration) time.Duration { return t.Round(100 * time.Millisecond) }
	for _, f := range d.faults {
		if f.Phase != p.Name {
			continue
		}
		at, ok := d.injectedAt[f]
		window := f.End - f.Start
		switch {
		case !ok:
			absent = append(absent, f.Label()+" was never injected")
		case at >= f.End:
			end := "its window"
			if f.End == p.End {
				end = "the phase"
			}
			absent = append(absent, fmt.Sprintf("%s took effect at %s, after %s ended at %s", f.Label(), round(at), end, round(f.End)))
		case window > 0 && at-f.Start > window/10:
			late = append(late, fmt.Sprintf("%s took effect at %s, %s after it was due: for %.0f%% of its window",
				f.Label(), round(at), round(at-f.Start), 100*float64(f.End-at)/float64(window)))
		}
	}
	return absent, late
}
