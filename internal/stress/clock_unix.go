//go:build unix

package stress

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// threadCPUTime is the CPU time used so far by the calling OS thread.
func threadCPUTime() (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, fmt.Errorf("thread cpu clock: %w", err)
	}
	return time.Duration(ts.Nano()), nil
}
