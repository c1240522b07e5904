//go:build !unix

package proc

// Exists cannot tell on this platform, so it assumes the process lives:
// nothing is declared ended that might not be.
func Exists(pid int) bool { return pid > 0 }

// StartTime cannot tell on this platform.
func StartTime(int) uint64 { return 0 }
