package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

func init() {
	registerKind(kind{
		name:         "signal",
		group:        GroupProcess,
		summary:      "send a signal (default SIGKILL) to a pid or the pid in a pidfile; SIGSTOP is undone with SIGCONT",
		newFault:     func() Fault { return new(signalFault) },
		newInjection: func() Injection { return new(signalInjection) },
	})
}

// signalFault signals a process of this machine.
type signalFault struct {
	PID     int          `yaml:"pid,omitempty" doc:"the process id to signal (this or pidfile is required)"`
	Pidfile string       `yaml:"pidfile,omitempty" doc:"a file holding the process id to signal"`
	Signal  string       `yaml:"signal,omitempty" default:"SIGKILL" doc:"the signal to send: SIGKILL, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGSTOP, SIGCONT, SIGUSR1 or SIGUSR2 (stop and STOP work too)"`
	Revert  restoreField `yaml:",inline"`
}

// restoreField lets a fault leave its targets as it left them.
type restoreField struct {
	Restore *bool `yaml:"restore,omitempty" default:"true" doc:"false leaves the targets as the fault left them on revert (killed, stopped, paused)"`
}

// restore reports whether revert should bring targets back (the default).
func (r restoreField) restore() bool { return r.Restore == nil || *r.Restore }

var _ Fault = (*signalFault)(nil)

func (f *signalFault) Kind() string { return "signal" }

func (f *signalFault) signal() string {
	return signalOr(f.Signal, "SIGKILL")
}

func (f *signalFault) Describe() string {
	if f.Pidfile != "" {
		return fmt.Sprintf("%s to the process in %s", f.signal(), f.Pidfile)
	}
	return fmt.Sprintf("%s to pid %d", f.signal(), f.PID)
}

func (f *signalFault) Validate() []error {
	var errs []error
	switch {
	case f.PID == 0 && f.Pidfile == "":
		errs = append(errs, errors.New("pid or pidfile is required"))
	case f.PID != 0 && f.Pidfile != "":
		errs = append(errs, fieldErrorf("pidfile", "give pid or pidfile, not both"))
	case f.PID < 0:
		errs = append(errs, fieldErrorf("pid", "pid %d: want a positive process id", f.PID))
	}
	if err := checkSignal(f.signal()); err != nil {
		errs = append(errs, &FieldError{Field: "signal", Err: err})
	}
	return errs
}

// normalSignal accepts "kill", "KILL" and "SIGKILL" alike.
func normalSignal(name string) string {
	name = strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	return name
}

// signalOr is the named signal, normalised, or def when none is named.
func signalOr(name, def string) string {
	if name == "" {
		return def
	}
	return normalSignal(name)
}

func checkSignal(name string) error {
	if _, ok := lookupSignal(name); !ok {
		return fmt.Errorf("unknown signal %q: use SIGKILL, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGSTOP, SIGCONT, SIGUSR1 or SIGUSR2", name)
	}
	return nil
}

func (f *signalFault) Resolve(ctx context.Context, env *Env) (Injection, error) {
	pid := f.PID
	from := ""
	if f.Pidfile != "" {
		b, err := os.ReadFile(f.Pidfile)
		if err != nil {
			return nil, fmt.Errorf("read pidfile: %w", err)
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("pidfile %s: no process id in it", f.Pidfile)
		}
		from = " (from " + f.Pidfile + ")"
	}
	if pid == os.Getpid() {
		return nil, fmt.Errorf("pid %d%s is faultline itself", pid, from)
	}
	if !processExists(pid) {
		return nil, fmt.Errorf("no process with pid %d%s", pid, from)
	}
	return &signalInjection{PID: pid, Start: processStart(pid), Signal: f.signal(), Pidfile: f.Pidfile, Restore: f.Revert.restore()}, nil
}

// signalInjection sends a signal to a process. Only SIGSTOP has an undo,
// SIGCONT; a process killed stays dead.
type signalInjection struct {
	PID     int    `json:"pid"`
	Start   uint64 `json:"start,omitempty"` // to tell a recycled pid apart
	Signal  string `json:"signal"`
	Pidfile string `json:"pidfile,omitempty"`
	Restore bool   `json:"restore"`
}

var _ Injection = (*signalInjection)(nil)

func (s *signalInjection) Describe() string {
	if s.Pidfile != "" {
		return fmt.Sprintf("%s to pid %d (from %s)", s.Signal, s.PID, s.Pidfile)
	}
	return fmt.Sprintf("%s to pid %d", s.Signal, s.PID)
}

// same reports whether the recorded process still runs.
func (s *signalInjection) same() bool {
	return (Owner{PID: s.PID, Start: s.Start}).Alive()
}

func (s *signalInjection) Inject(ctx context.Context, env *Env) error {
	if !s.same() {
		return fmt.Errorf("pid %d: the process is gone", s.PID)
	}
	return signalProcess(s.PID, s.Signal)
}

func (s *signalInjection) Revert(ctx context.Context, env *Env) (string, error) {
	if s.Signal != "SIGSTOP" {
		return fmt.Sprintf("nothing to undo: %s cannot be taken back", s.Signal), nil
	}
	if !s.Restore {
		return fmt.Sprintf("restore: false, pid %d left stopped", s.PID), nil
	}
	if !s.same() {
		return fmt.Sprintf("pid %d is gone", s.PID), nil
	}
	if err := signalProcess(s.PID, "SIGCONT"); err != nil {
		return "", err
	}
	return fmt.Sprintf("sent SIGCONT to pid %d", s.PID), nil
}
