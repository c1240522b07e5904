//go:build !unix

package stress

import (
	"errors"
	"time"
)

// threadCPUTime cannot be read on this platform: a duty cycle against the
// wall clock would not hold under contention, so CPU refuses to run.
func threadCPUTime() (time.Duration, error) {
	return 0, errors.New("cpu stress needs a per-thread CPU clock (Linux, macOS, BSD)")
}
