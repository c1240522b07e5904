//go:build !linux

package loadgen

import "net"

// The epoll engine is Linux's; elsewhere every run uses the goroutine
// engine, and asking for epoll is a usage error (Options.Validate).
const epollSupported = false

func newEventEngine(*engine, []*net.TCPAddr, Schedule) (eventEngine, error) { return nil, errNoEpoll }
