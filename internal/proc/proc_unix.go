//go:build unix

package proc

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Exists reports whether a process with this pid exists (possibly owned by
// another user) and has not ended: a zombie, killed but not yet waited for
// by its parent, has ended (its threads, its listeners, its in-process
// services are gone) however long its pid stays taken.
func Exists(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	fields := statFields(pid)
	return len(fields) == 0 || (fields[0] != "Z" && fields[0] != "X")
}

// StartTime returns the start time of pid in clock ticks since boot, read
// from /proc where there is one, so that a recycled pid is told apart from
// the process that was recorded. It returns 0 where it cannot tell.
func StartTime(pid int) uint64 {
	fields := statFields(pid)
	if len(fields) < 20 {
		return 0
	}
	v, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return 0
	}
	return v
}

// statFields returns the fields of /proc/PID/stat after the command name
// (field 3, the state, first), or nil where there is no such file.
func statFields(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	// The command name, field 2, is in parentheses and may hold spaces, so
	// count fields after its closing parenthesis: starttime is field 22.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}
