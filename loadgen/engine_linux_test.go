//go:build linux

package loadgen

import (
	"context"
	"errors"
	"net"
	"net/http"
	"runtime"
	"slices"
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

// listArrivals walks a fixed list of intended starts.
type listArrivals struct{ at []time.Duration }

func (a *listArrivals) Next() (time.Duration, bool) {
	if len(a.at) == 0 {
		return 0, false
	}
	next := a.at[0]
	a.at = a.at[1:]
	return next, true
}

// TestBatchedArrivalsAreNeverEarly walks a loop through arrivals close
// together: it wakes for the last one due within sendSlack of the first,
// sends only what is due, records the send lag the batching adds, and
// counts every held arrival when the rest is dropped.
func TestBatchedArrivalsAreNeverEarly(t *testing.T) {
	t.Parallel()
	_, target := server(t, func(http.ResponseWriter, *http.Request) {})
	opts := Options{Engine: EngineEpoll, Targets: []Target{target}, Model: Open, Rate: 1000, Duration: time.Second, Connections: 1}
	opts.setDefaults()
	sched, err := opts.schedule()
	if err != nil {
		t.Fatal(err)
	}
	e, err := newEngine(opts, sched)
	if err != nil {
		t.Fatal(err)
	}
	defer e.closeClients()
	e.start = time.Now()
	le := e.events.(*loopEngine)
	const S = sendSlack
	at := []time.Duration{0, S / 5, S * 9 / 10, S * 3 / 2, 4 * S, 20 * S}
	le.arrivals, le.picker, le.planned = &listArrivals{at: at}, newPicker(opts.Targets), int64(len(at))
	le.sendUntil, le.scheduleDone = time.Hour, make(chan struct{})
	l := le.loops[0]
	defer l.closeConns()
	l.idle = append(l.idle, l.slots...)
	l.takeArrival()

	queued := func() []time.Duration {
		var q []time.Duration
		for _, a := range l.queue[l.head:] {
			q = append(q, a.intended)
		}
		return q
	}
	if got := l.batchWake(); got != S*9/10 {
		t.Fatalf("first wake at %v; want %v, the last arrival within %v of the first", got, S*9/10, S)
	}
	// Woken early (by a socket), the loop sends what is due and no more.
	l.dispatchDue(S/2, false)
	s := l.slots[0]
	if !s.busy || s.intended != 0 || s.sent != S/2 {
		t.Fatalf("slot: busy %v, intended %v, sent %v; want the arrival at 0 sent at %v", s.busy, s.intended, s.sent, S/2)
	}
	if q := queued(); !slices.Equal(q, []time.Duration{S / 5}) || l.next.intended != S*9/10 {
		t.Fatalf("queued %v, next %v; want %v queued and %v held", q, l.next.intended, S/5, S*9/10)
	}
	if got := l.batchWake(); got != S*3/2 {
		t.Fatalf("second wake at %v; want %v", got, S*3/2)
	}
	l.dispatchDue(S*3/2, false)
	if q := queued(); !slices.Equal(q, []time.Duration{S / 5, S * 9 / 10, S * 3 / 2}) {
		t.Fatalf("queued %v; want %v", q, at[1:4])
	}
	if got := l.batchWake(); got != 4*S {
		t.Fatalf("third wake at %v; want %v, alone", got, 4*S)
	}
	// The slot's response ends its request: the lag it was sent with is
	// recorded, and the oldest queued arrival goes out at once.
	l.s = sample{status: 200}
	l.finish(s, 2*S, 2*S)
	if s.intended != S/5 || s.sent != 2*S {
		t.Fatalf("slot: intended %v, sent %v; want the arrival at %v sent at %v", s.intended, s.sent, S/5, 2*S)
	}
	st := NewStats(e.start, e.start)
	e.rec.drain(st)
	if n, lag := st.SendLag.TotalCount(), time.Duration(st.SendLag.Max()); n != 1 || lag < S/2*99/100 || lag > S/2*101/100 {
		t.Fatalf("recorded %d send lags, the largest %v; want one of %v", n, lag, S/2)
	}
	// Past the end of sending, the held arrivals (4S and 20S) are
	// counted as scheduled and dropped with the rest.
	le.sendUntil = 3 * S
	l.dispatchDue(3*S+1, false)
	if sc, dr := e.scheduled.Load(), e.dropped.Load(); sc != int64(len(at)) || dr != 2 {
		t.Fatalf("scheduled %d, dropped %d; want %d and 2", sc, dr, len(at))
	}
	if !l.schedOver || l.held() != 0 {
		t.Fatalf("schedule over %v, %d held; want over, none held", l.schedOver, l.held())
	}
}

// TestExactSetsTimerSlack checks that a loop's thread waits with a timer
// slack of 1 ns, not Linux's default 50 µs, by which every sleep to an
// arrival would end late. It runs in a goroutine locked to a thread of its
// own, which ends with it.
func TestExactSetsTimerSlack(t *testing.T) {
	slack := func() uintptr {
		r, _, _ := unix.RawSyscall(unix.SYS_PRCTL, unix.PR_GET_TIMERSLACK, 0, 0)
		return r
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // not unlocked: the thread exits with the goroutine
		if err := unix.Prctl(unix.PR_SET_TIMERSLACK, 50000, 0, 0, 0); err != nil {
			t.Errorf("prctl: %v", err)
			return
		}
		if got := slack(); got != 50000 {
			t.Errorf("timer slack before exact: %d ns, want the 50000 just set", got)
		}
		l := &eventLoop{}
		l.exact()
		if got := slack(); got != 1 {
			t.Errorf("timer slack after exact: %d ns, want 1", got)
		}
	}()
	<-done
}
