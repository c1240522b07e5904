//go:build unix

package chaos

import (
	"fmt"
	"syscall"
)

// signals are the signals a process or container fault may send, by name.
var signals = map[string]syscall.Signal{
	"SIGKILL": syscall.SIGKILL,
	"SIGTERM": syscall.SIGTERM,
	"SIGINT":  syscall.SIGINT,
	"SIGHUP":  syscall.SIGHUP,
	"SIGQUIT": syscall.SIGQUIT,
	"SIGSTOP": syscall.SIGSTOP,
	"SIGCONT": syscall.SIGCONT,
	"SIGUSR1": syscall.SIGUSR1,
	"SIGUSR2": syscall.SIGUSR2,
}

func lookupSignal(name string) (syscall.Signal, bool) {
	s, ok := signals[name]
	return s, ok
}

// signalProcess sends the named signal to pid.
func signalProcess(pid int, name string) error {
	sig, ok := lookupSignal(name)
	if !ok {
		return fmt.Errorf("unknown signal %q", name)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("send %s to pid %d: %w", name, pid, err)
	}
	return nil
}
