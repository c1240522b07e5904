//go:build !unix

package chaos

import (
	"errors"
	"fmt"
)

func lookupSignal(name string) (struct{}, bool) {
	switch name {
	case "SIGKILL", "SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGSTOP", "SIGCONT", "SIGUSR1", "SIGUSR2":
		return struct{}{}, true
	}
	return struct{}{}, false
}

func signalProcess(pid int, name string) error {
	return fmt.Errorf("send %s to pid %d: %w", name, pid, errors.ErrUnsupported)
}
