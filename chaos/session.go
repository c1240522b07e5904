package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/internal/exitcode"
)

// DefaultRevertTimeout bounds one revert (a container restart included).
const DefaultRevertTimeout = 2 * time.Minute

// errOwnedElsewhere says a fault can only be reverted by the live process
// that injected it (a crashed in-process service); cleanup leaves it to that
// process instead of reporting a failure.
var errOwnedElsewhere = errors.New("only the process that injected it can revert it")

// Session injects faults and reverts them, keeping the ledger up to date.
// The experiment runner and the ad-hoc CLI both drive faults through a
// Session: it guarantees that a fault is in the ledger before it touches
// anything, and that RevertAll undoes everything the session injected.
type Session struct {
	ledger *Ledger
	env    *Env
	// RevertTimeout bounds each revert; zero means DefaultRevertTimeout.
	RevertTimeout time.Duration
	// Out, when set, gets one line per injection and revert.
	Out io.Writer

	mu     sync.Mutex
	active []*Entry
}

// NewSession returns a session recording into l and acting on env.
func NewSession(l *Ledger, env *Env) *Session {
	return &Session{ledger: l, env: env}
}

func (s *Session) logf(format string, args ...any) {
	if s.Out != nil {
		fmt.Fprintf(s.Out, format+"\n", args...)
	}
}

// Plan resolves f without touching anything: what --dry-run prints.
func (s *Session) Plan(ctx context.Context, f Fault) (Injection, error) {
	inj, err := f.Resolve(ctx, s.env)
	if err != nil {
		return nil, exitcode.WrapIfNone(fmt.Errorf("%s: %w", f.Kind(), err), exitcode.Runtime)
	}
	return inj, nil
}

// Inject resolves f, records it in the ledger (fsync'd), then injects it. A
// failed injection is reverted at once, since part of it may have applied.
func (s *Session) Inject(ctx context.Context, f Fault) (*Entry, error) {
	inj, err := s.Plan(ctx, f)
	if err != nil {
		return nil, err
	}
	e, err := s.ledger.Record(f.Kind(), inj)
	if err != nil {
		return nil, exitcode.Wrap(err, exitcode.Runtime)
	}
	// The entry is active from now on, so that a panic during injection
	// still finds it to revert.
	s.mu.Lock()
	s.active = append(s.active, e)
	s.mu.Unlock()
	if err := inj.Inject(ctx, s.env); err != nil {
		injectErr := fmt.Errorf("inject %s: %w", inj.Describe(), err)
		if rerr := s.Revert(ctx, e); rerr != nil {
			var re *RevertError
			if errors.As(rerr, &re) {
				re.Cause = injectErr
			}
			return nil, rerr
		}
		return nil, exitcode.WrapIfNone(injectErr, exitcode.Runtime)
	}
	s.logf("injected %s [%s]", inj.Describe(), e.ID)
	return e, nil
}

// Active returns what the session injected and has not reverted yet.
func (s *Session) Active() []*Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.active)
}

// Revert undoes one injection of this session. It runs even when ctx is
// already cancelled (after the first Ctrl-C), bounded by RevertTimeout.
func (s *Session) Revert(ctx context.Context, e *Entry) error {
	s.mu.Lock()
	i := slices.Index(s.active, e)
	s.mu.Unlock()
	if i < 0 {
		return nil // already reverted: reverting twice is harmless
	}
	note, err := s.revert(ctx, e)
	if err != nil {
		s.logf("REVERT FAILED %s [%s]: %v", e.Injection.Describe(), e.ID, err)
		return exitcode.Wrap(&RevertError{Ledger: s.ledger.Path(), Failed: []RevertFailure{{Entry: e, Err: err}}}, exitcode.RevertFailed)
	}
	s.mu.Lock()
	s.active = slices.DeleteFunc(s.active, func(x *Entry) bool { return x == e })
	e.RevertNote = note
	s.mu.Unlock()
	s.logf("reverted %s [%s]: %s", e.Injection.Describe(), e.ID, note)
	return nil
}

// RevertAll undoes everything the session injected, newest first, and
// reports every failure at once.
func (s *Session) RevertAll(ctx context.Context) error {
	active := s.Active()
	var failed []RevertFailure
	for i := len(active) - 1; i >= 0; i-- {
		if err := s.Revert(ctx, active[i]); err != nil {
			var re *RevertError
			if errors.As(err, &re) {
				failed = append(failed, re.Failed...)
			}
		}
	}
	if len(failed) > 0 {
		return exitcode.Wrap(&RevertError{Ledger: s.ledger.Path(), Failed: failed}, exitcode.RevertFailed)
	}
	return nil
}

func (s *Session) revert(ctx context.Context, e *Entry) (string, error) {
	timeout := s.RevertTimeout
	if timeout <= 0 {
		timeout = DefaultRevertTimeout
	}
	note, err := revertEntry(ctx, s.ledger, s.env, e, timeout)
	if err != nil && !errors.Is(err, errLedger) {
		return "", err
	}
	if err != nil {
		s.logf("warning: %v", err)
	}
	return note, nil
}

// errLedger marks a revert that worked but could not be recorded; the next
// cleanup reverts it again, harmlessly.
var errLedger = errors.New("reverted, but the ledger could not record it")

func revertEntry(ctx context.Context, l *Ledger, env *Env, e *Entry, timeout time.Duration) (string, error) {
	if e.DecodeErr != nil {
		return "", e.DecodeErr
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	note, err := e.Injection.Revert(rctx, env)
	if err != nil {
		if !errors.Is(err, errOwnedElsewhere) {
			l.MarkRevertFailed(e.ID, err)
		}
		return "", err
	}
	if err := l.MarkReverted(e.ID, note); err != nil {
		return note, fmt.Errorf("%w: %w", errLedger, err)
	}
	return note, nil
}

// Hold injects f, keeps it for d, and reverts it. With d zero it holds until
// ctx ends. Revert runs however Hold ends: the time is up, ctx is cancelled
// (the first Ctrl-C or SIGTERM), or a panic, which is raised again after the
// revert. Hold returns nil when the fault ran its course, an error with exit
// code Interrupted when ctx ended first and the fault was reverted, and a
// *RevertError (exit code RevertFailed) when the revert failed.
func (s *Session) Hold(ctx context.Context, f Fault, d time.Duration) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.RevertAll(context.WithoutCancel(ctx))
			panic(r)
		}
	}()
	e, err := s.Inject(ctx, f)
	if err != nil {
		return err
	}
	var expired <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		expired = t.C
	}
	interrupted := false
	select {
	case <-expired:
	case <-ctx.Done():
		interrupted = true
	}
	if err := s.Revert(ctx, e); err != nil {
		return err
	}
	if interrupted {
		return exitcode.Errorf(exitcode.Interrupted, "interrupted: %s reverted", e.What)
	}
	return nil
}

// RevertFailure is one fault that could not be reverted.
type RevertFailure struct {
	Entry *Entry
	Err   error
}

// RevertError reports faults that could not be reverted: the system may
// still be faulted, and the ledger still lists them as active.
type RevertError struct {
	Ledger string
	Failed []RevertFailure
	// Cause is the error that led to the revert, if any (a failed injection).
	Cause error
}

func (e *RevertError) Error() string {
	var b strings.Builder
	if e.Cause != nil {
		fmt.Fprintf(&b, "%v; then ", e.Cause)
	}
	fmt.Fprintf(&b, "could not revert %d fault(s), which may still be active (see %s, then run faultline chaos cleanup):", len(e.Failed), e.Ledger)
	for _, f := range e.Failed {
		fmt.Fprintf(&b, "\n  %s [%s]: %v", f.Entry.What, f.Entry.ID, f.Err)
	}
	return b.String()
}

func (e *RevertError) Unwrap() error { return e.Cause }

// RevertLedger reverts every fault the ledger still lists as active, newest
// first, whichever process injected it: what `faultline chaos cleanup` runs
// after a crash, and what the runner may run at start-up. It writes one line
// per fault to out and returns a *RevertError (exit code RevertFailed)
// naming every fault it could not revert. A ledger with unreadable lines
// has its readable faults reverted, and returns its *CorruptError (exit
// code RevertFailed too): what those lines recorded may still be active.
func RevertLedger(ctx context.Context, l *Ledger, env *Env, out io.Writer) (reverted int, err error) {
	if out == nil {
		out = io.Discard
	}
	active, err := l.Active()
	var corrupt *CorruptError
	if err != nil && !errors.As(err, &corrupt) {
		return 0, exitcode.Wrap(err, exitcode.RevertFailed)
	}
	var failed []RevertFailure
	for i := len(active) - 1; i >= 0; i-- {
		e := active[i]
		note, err := revertEntry(ctx, l, env, e, DefaultRevertTimeout)
		switch {
		case errors.Is(err, errOwnedElsewhere):
			fmt.Fprintf(out, "left to its owner (%s, still running): %s [%s]\n", e.Owner, e.What, e.ID)
		case errors.Is(err, errLedger):
			reverted++
			fmt.Fprintf(out, "reverted %s [%s]: %s (warning: %v)\n", e.What, e.ID, note, err)
		case err != nil:
			failed = append(failed, RevertFailure{Entry: e, Err: err})
			fmt.Fprintf(out, "REVERT FAILED %s [%s]: %v\n", e.What, e.ID, err)
		default:
			reverted++
			fmt.Fprintf(out, "reverted %s [%s]: %s\n", e.What, e.ID, note)
		}
	}
	var errs []error
	if len(failed) > 0 {
		errs = append(errs, &RevertError{Ledger: l.Path(), Failed: failed})
	}
	if corrupt != nil {
		errs = append(errs, corrupt)
	}
	if len(errs) > 0 {
		return reverted, exitcode.Wrap(errors.Join(errs...), exitcode.RevertFailed)
	}
	return reverted, nil
}
