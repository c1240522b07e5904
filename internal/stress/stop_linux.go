package stress

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// Stop sends SIGTERM to every other process that runs the same executable
// as this one with `stress cpu` or `stress memory`, and waits until they
// have ended or ctx ends. It is how a fault ends the stressors it started
// inside a container, where it has no other handle on them than another
// exec of the same binary. It returns how many it stopped.
func Stop(ctx context.Context) (int, error) {
	self, err := os.Stat("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("stop stressors: %w", err)
	}
	pids, err := stressors(self)
	if err != nil {
		return 0, err
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			return 0, fmt.Errorf("stop stressor %d: %w", pid, err)
		}
	}
	ticker := time.NewTicker(20 * time.Millisecond)
	defer ticker.Stop()
	for _, pid := range pids {
		for syscall.Kill(pid, 0) == nil && !isZombie(pid) {
			select {
			case <-ctx.Done():
				return 0, fmt.Errorf("stop stressor %d: %w", pid, ctx.Err())
			case <-ticker.C:
			}
		}
	}
	return len(pids), nil
}

// stressors lists the processes other than this one that run the
// executable self with the arguments `stress cpu|memory`.
func stressors(self os.FileInfo) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("stop stressors: %w", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		exe, err := os.Stat("/proc/" + e.Name() + "/exe")
		if err != nil || !os.SameFile(exe, self) {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := bytes.Split(cmdline, []byte{0})
		if len(args) >= 3 && string(args[1]) == "stress" && (string(args[2]) == "cpu" || string(args[2]) == "memory") {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// isZombie reports whether pid has ended and waits only to be reaped,
// which Stop cannot do for a process that is not its child.
func isZombie(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z'
}
