package chaos

import "github.com/faultline-dev/faultline/internal/proc"

// Owner identifies the process that injected a fault, so that cleanup can
// tell whether a fault that lived inside that process (an embedded Toxiproxy,
// a crashed in-process service) ended with it.
type Owner = proc.Owner

// self is the identity of this process.
func self() Owner { return proc.Self() }

// processExists reports whether a process with this pid exists.
func processExists(pid int) bool { return proc.Exists(pid) }

// processStart returns the start time of pid, 0 where it cannot tell.
func processStart(pid int) uint64 { return proc.StartTime(pid) }
