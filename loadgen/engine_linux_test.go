//go:build linux

package loadgen

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestEpollWithoutPwait2 runs the epoll engine as on a kernel without
// epoll_pwait2, where every wait parks in the netpoller with the timerfd
// carrying the schedule. It is not parallel: it sets a package switch.
func TestEpollWithoutPwait2(t *testing.T) {
	noPwait2.Store(true)
	defer noPwait2.Store(false)
	_, target := server(t, func(w http.ResponseWriter, r *http.Request) {})
	res := mustRun(t, context.Background(), Options{Engine: EngineEpoll, Targets: []Target{target}, Model: Open, Rate: 1000, Duration: time.Second})
	if got := res.Total.Completed(""); got != 1000 || res.Total.Failed("") != 0 {
		t.Errorf("open model: %d completed, %d failed of %d scheduled; want all 1000", got, res.Total.Failed(""), res.Total.Scheduled)
	}
	if p99 := Percentile(res.Total.SendLag, 99); p99 > 100*time.Millisecond {
		t.Errorf("send lag p99 %v: the timerfd did not keep the schedule", p99)
	}
	res = mustRun(t, context.Background(), Options{Engine: EngineEpoll, Targets: []Target{target}, Model: Closed, Concurrency: 2, ThinkTime: 10 * time.Millisecond, Duration: 500 * time.Millisecond})
	// Two users thinking 10 ms between requests: about 100 requests.
	if got := res.Total.Completed(""); got < 20 || got > 110 || res.Total.Failed("") != 0 {
		t.Errorf("closed model with think time: %d completed, %d failed; want about 100, none failed", got, res.Total.Failed(""))
	}
}

// TestLateReadIsDatedByArrival checks the kernel's receive timestamp that
// lets a loop read a response after its next arrival without counting the
// wait as latency: bytes read 30 ms after they arrived are dated 30 ms back.
func TestLateReadIsDatedByArrival(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	le := &loopEngine{tcp: []*net.TCPAddr{ln.Addr().(*net.TCPAddr)}, e: &engine{start: time.Now(), opts: Options{Timeout: time.Second, ConnectTimeout: time.Second}}}
	l, err := newEventLoop(le, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.closeFDs()
	c := &loopConn{fd: -1}
	if err := l.dial(c, 0); err != nil {
		t.Fatal(err)
	}
	defer l.closeConn(c)
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	// The kernel turns its stamps on a moment after the first socket asks
	// for them, so the first bytes may come without one.
	const wait = 30 * time.Millisecond
	for try := 0; ; try++ {
		if _, err := peer.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(wait)
		var n int
		var stamp int64
		for n == 0 {
			if n, stamp, err = l.recv(c.fd, l.buf); err != nil && !errors.Is(err, unix.EAGAIN) {
				t.Fatal(err)
			}
		}
		if stamp == 0 {
			if try == 20 {
				t.Fatal("no read brought a receive timestamp")
			}
			continue
		}
		l.stampArrival(c, stamp)
		if age := l.now() - c.doneAt; age < wait || age > 10*wait {
			t.Fatalf("bytes read %v after they were written were dated %v back", wait, age)
		}
		return
	}
}

func TestRxStampIgnoresOtherMessages(t *testing.T) {
	t.Parallel()
	if got := rxStamp(nil); got != 0 {
		t.Errorf("no control message: %d", got)
	}
	b := make([]byte, unix.CmsgSpace(4)+unix.CmsgSpace(16))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = unix.SOL_SOCKET, unix.SCM_RIGHTS
	h.SetLen(unix.CmsgLen(4))
	off := unix.CmsgSpace(4)
	h = (*unix.Cmsghdr)(unsafe.Pointer(&b[off]))
	h.Level, h.Type = unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS
	h.SetLen(unix.CmsgLen(16))
	*(*unix.Timespec)(unsafe.Pointer(&b[off+unix.CmsgLen(0)])) = unix.NsecToTimespec(1234567890123)
	if got := rxStamp(b); got != 1234567890123 {
		t.Errorf("timestamp after another message: %d, want 1234567890123", got)
	}
	if got := rxStamp(b[:off+unix.CmsgLen(0)]); got != 0 {
		t.Errorf("truncated timestamp: %d, want 0", got)
	}
}
