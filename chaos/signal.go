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
		group:        "process",
		summary:      "send a signal (default SIGKILL) to a pid or the pid in a pidfile; SIGSTOP is undone with SIGCONT",
		fields:       []string{"pid", "pidfile", "signal", "restore"},
		build:        func(s Spec) Fault { return &signalFault{spec: s} },
		newInjection: func() Injection { return new(signalInjection) },
	})
}

// signalFault signals a process of this machine.
type signalFault struct{ spec Spec }

var _ Fault = (*signalFault)(nil)

func (f *signalFault) Kind() string { return "signal" }

func (f *signalFault) signal() string {
	if f.spec.Signal == "" {
		return "SIGKILL"
	}
	return normalSignal(f.spec.Signal)
}

func (f *signalFault) Describe() string {
	if f.spec.Pidfile != "" {
		return fmt.Sprintf("%s to the process in %s", f.signal(), f.spec.Pidfile)
	}
	return fmt.Sprintf("%s to pid %d", f.signal(), f.spec.PID)
}

func (f *signalFault) Validate() []error {
	var errs []error
	switch {
	case f.spec.PID == 0 && f.spec.Pidfile == "":
		errs = append(errs, errors.New("pid or pidfile is required"))
	case f.spec.PID != 0 && f.spec.Pidfile != "":
		errs = append(errs, errors.New("give pid or pidfile, not both"))
	case f.spec.PID < 0:
		errs = append(errs, fmt.Errorf("pid %d: want a positive process id", f.spec.PID))
	}
	if err := checkSignal(f.signal()); err != nil {
		errs = append(errs, err)
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

func checkSignal(name string) error {
	if _, ok := lookupSignal(name); !ok {
		return fmt.Errorf("unknown signal %q: use SIGKILL, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGSTOP, SIGCONT, SIGUSR1 or SIGUSR2", name)
	}
	return nil
}

func (f *signalFault) Resolve(ctx context.Context, env *Env) (Injection, error) {
	pid := f.spec.PID
	from := ""
	if f.spec.Pidfile != "" {
		b, err := os.ReadFile(f.spec.Pidfile)
		if err != nil {
			return nil, fmt.Errorf("read pidfile: %w", err)
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("pidfile %s: no process id in it", f.spec.Pidfile)
		}
		from = " (from " + f.spec.Pidfile + ")"
	}
	if pid == os.Getpid() {
		return nil, fmt.Errorf("pid %d%s is faultline itself", pid, from)
	}
	if !processExists(pid) {
		return nil, fmt.Errorf("no process with pid %d%s", pid, from)
	}
	return &signalInjection{PID: pid, Start: processStart(pid), Signal: f.signal(), Pidfile: f.spec.Pidfile, Restore: f.spec.restore()}, nil
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
