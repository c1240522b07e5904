package chaos

import (
	"fmt"
	"os"
	"sync"
)

// Owner identifies the process that injected a fault, so that cleanup can
// tell whether a fault that lived inside that process (an embedded Toxiproxy,
// a crashed in-process service) ended with it.
type Owner struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start,omitempty"` // start time in clock ticks since boot, where known
	Host  string `json:"host,omitempty"`
}

var (
	selfOnce  sync.Once
	selfOwner Owner
)

// self is the identity of this process.
func self() Owner {
	selfOnce.Do(func() {
		host, _ := os.Hostname()
		pid := os.Getpid()
		selfOwner = Owner{PID: pid, Start: processStart(pid), Host: host}
	})
	return selfOwner
}

// IsSelf reports whether o is this process.
func (o Owner) IsSelf() bool { return o == self() }

// Alive reports whether the owner process may still run. An owner on
// another host, or whose liveness this platform cannot tell, counts as alive,
// so nothing is declared ended that might not be.
func (o Owner) Alive() bool {
	if o.IsSelf() {
		return true
	}
	if o.Host != "" && o.Host != self().Host {
		return true
	}
	if !processExists(o.PID) {
		return false
	}
	if o.Start != 0 {
		if now := processStart(o.PID); now != 0 && now != o.Start {
			return false // the pid was recycled
		}
	}
	return true
}

func (o Owner) String() string {
	if o.Host != "" && o.Host != self().Host {
		return fmt.Sprintf("pid %d on %s", o.PID, o.Host)
	}
	return fmt.Sprintf("pid %d", o.PID)
}
