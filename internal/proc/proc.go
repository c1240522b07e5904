// Package proc identifies a process across its lifetime: its pid, its start
// time (so that a recycled pid is told apart) and its host. The chaos
// ledger records the owner of every fault with it, and the Docker shop
// labels its containers with it, so that cleanup can tell what was left
// behind by a process that has ended.
package proc

import (
	"fmt"
	"os"
	"strconv"
	"sync"
)

// Owner identifies the process that created something.
type Owner struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start,omitempty"` // start time in clock ticks since boot, where known
	Host  string `json:"host,omitempty"`
}

var (
	selfOnce  sync.Once
	selfOwner Owner
)

// Self is the identity of this process.
func Self() Owner {
	selfOnce.Do(func() {
		host, _ := os.Hostname()
		pid := os.Getpid()
		selfOwner = Owner{PID: pid, Start: StartTime(pid), Host: host}
	})
	return selfOwner
}

// IsSelf reports whether o is this process.
func (o Owner) IsSelf() bool { return o == Self() }

// Alive reports whether the owner process may still run. An owner on
// another host, or whose liveness this platform cannot tell, counts as alive,
// so nothing is declared ended that might not be.
func (o Owner) Alive() bool {
	if o.IsSelf() {
		return true
	}
	if o.Host != "" && o.Host != Self().Host {
		return true
	}
	if !Exists(o.PID) {
		return false
	}
	if o.Start != 0 {
		if now := StartTime(o.PID); now != 0 && now != o.Start {
			return false // the pid was recycled
		}
	}
	return true
}

func (o Owner) String() string {
	if o.Host != "" && o.Host != Self().Host {
		return fmt.Sprintf("pid %d on %s", o.PID, o.Host)
	}
	return fmt.Sprintf("pid %d", o.PID)
}

// The labels that carry an Owner on Docker containers and networks.
const (
	LabelPID   = "faultline.owner.pid"
	LabelStart = "faultline.owner.start"
	LabelHost  = "faultline.owner.host"
)

// Labels returns o as Docker labels.
func (o Owner) Labels() map[string]string {
	l := map[string]string{LabelPID: strconv.Itoa(o.PID), LabelHost: o.Host}
	if o.Start != 0 {
		l[LabelStart] = strconv.FormatUint(o.Start, 10)
	}
	return l
}

// FromLabels reads an Owner from Docker labels; ok is false when they
// carry none.
func FromLabels(labels map[string]string) (o Owner, ok bool) {
	pid, err := strconv.Atoi(labels[LabelPID])
	if err != nil || pid <= 0 {
		return Owner{}, false
	}
	o = Owner{PID: pid, Host: labels[LabelHost]}
	o.Start, _ = strconv.ParseUint(labels[LabelStart], 10, 64)
	return o, true
}
