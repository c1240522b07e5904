//go:build linux

package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const epollSupported = true

// noPwait2 makes new loops wait as on a kernel without epoll_pwait2, for
// the tests of that path.
var noPwait2 atomic.Bool

// loopEngine is the epoll engine: a few event loops, each with its own epoll
// set, each owning a share of the connections (open model) or virtual users
// (closed model). Nothing in it starts a goroutine per request or per
// connection or sends on a channel per request: a loop waits for its epoll
// set (its sockets, its eventfd for stopping) until its next timed event
// (the next arrival, the next user to finish thinking, the next sweep) and
// does the work each readiness calls for. A loop is a goroutine, not a
// thread of its own, and makes its system calls raw, which is what keeps
// the Go scheduler out of the way: a short wait is one raw epoll_pwait2 with
// the next event as its timeout, a long one parks in Go's netpoller (see
// poll); a loop locked to its thread and blocking in epoll_wait through the
// scheduler's syscall bookkeeping cost more in its hand-offs than the
// requests themselves.
type loopEngine struct {
	e     *engine
	tcp   []*net.TCPAddr // endpoint index -> address
	loops []*eventLoop

	// The open model's arrivals come from one walk of the schedule and one
	// target picker shared by the loops, so that the run as a whole keeps
	// the schedule and the weights exactly; each loop holds its next
	// arrival.
	schedMu  sync.Mutex
	arrivals Arrivals
	picker   *picker
	planned  int64 // arrivals the schedule holds
	walked   int64 // arrivals taken so far
	walkOver bool  // the walk has ended, or the rest was dropped
	// sendUntil is when a loop that fell behind stops sending and counts
	// the arrivals still due as dropped (dispatchSlack after the end).
	sendUntil time.Duration

	scheduleEnded atomic.Int32 // loops whose schedule has ended
	scheduleDone  chan<- struct{}
	closeOnce     sync.Once

	// The closed model's users and when they stop.
	users ClosedSchedule
	end   time.Duration

	stopWatch chan struct{} // closed to end the context watcher
	watcher   sync.WaitGroup
}

var _ eventEngine = (*loopEngine)(nil)

func newEventEngine(e *engine, addrs []*net.TCPAddr, sched Schedule) (eventEngine, error) {
	le := &loopEngine{e: e, tcp: addrs, stopWatch: make(chan struct{})}
	slots := e.opts.Connections
	if c, ok := sched.(ClosedSchedule); ok {
		slots = c.Users()
	}
	n := max(1, min(runtime.GOMAXPROCS(0), slots))
	for i := 0; i < n; i++ {
		l, err := newEventLoop(le, i)
		if err != nil {
			le.close()
			return nil, err
		}
		le.loops = append(le.loops, l)
	}
	// Slots are dealt round robin, so user i of a ramp is on loop i % n
	// and the loops share the users that are active at any time evenly.
	for i := 0; i < slots; i++ {
		l := le.loops[i%n]
		s := &slot{id: i, conns: make([]*loopConn, len(le.tcp))}
		if e.opts.Model == Closed {
			// Each user has its own picker, started at a different point
			// of the weight cycle, as in the goroutine engine.
			s.picker = newPicker(e.opts.Targets)
			for j := 0; j < i%max(1, s.picker.total); j++ {
				s.picker.next()
			}
		}
		l.slots = append(l.slots, s)
	}
	return le, nil
}

func (le *loopEngine) start(ctx context.Context, sched Schedule, workers *sync.WaitGroup, scheduleDone chan<- struct{}) {
	le.scheduleDone = scheduleDone
	switch sched := sched.(type) {
	case OpenSchedule:
		le.arrivals, le.picker, le.planned = sched.Arrivals(), newPicker(le.e.opts.Targets), sched.Planned()
		le.sendUntil = sched.Duration() + dispatchSlack
	case ClosedSchedule:
		le.users, le.end = sched, sched.Duration()
	}
	// The watcher wakes the loops when ctx ends, so that they stop
	// starting requests; Run then abandons those in flight.
	le.watcher.Add(1)
	go func() {
		defer le.watcher.Done()
		select {
		case <-ctx.Done():
			for _, l := range le.loops {
				l.wake()
			}
		case <-le.stopWatch:
		}
	}()
	for _, l := range le.loops {
		workers.Add(1)
		go func() {
			defer workers.Done()
			l.run(ctx)
		}()
	}
}

// nextArrival takes the next arrival of the shared schedule and the target
// it goes to.
func (le *loopEngine) nextArrival() (time.Duration, int, bool) {
	le.schedMu.Lock()
	defer le.schedMu.Unlock()
	if le.walkOver {
		return 0, 0, false
	}
	off, ok := le.arrivals.Next()
	if !ok {
		le.walkOver = true
		return 0, 0, false
	}
	le.walked++
	return off, le.picker.next(), true
}

// dropRest counts every arrival still due (what the walk has not handed out,
// from Planned, and the held ones of the loop that calls it) as scheduled
// and dropped, when a loop is still sending dispatchSlack after the
// schedule's end, so that the schedule's length bounds the run's (as the
// goroutine engine's dispatch).
func (le *loopEngine) dropRest(held int64) {
	le.schedMu.Lock()
	defer le.schedMu.Unlock()
	n := held
	if !le.walkOver {
		n += max(0, le.planned-le.walked)
		le.walkOver = true
	}
	le.e.scheduled.Add(n)
	le.e.dropped.Add(n)
}

// loopScheduleEnded is called once by each loop whose schedule has ended;
// the last one closes scheduleDone.
func (le *loopEngine) loopScheduleEnded() {
	if int(le.scheduleEnded.Add(1)) == len(le.loops) {
		le.closeOnce.Do(func() { close(le.scheduleDone) })
	}
}

func (le *loopEngine) abort() {
	for _, l := range le.loops {
		l.wake()
	}
}

func (le *loopEngine) close() {
	close(le.stopWatch)
	le.watcher.Wait()
	for _, l := range le.loops {
		l.closeFDs()
	}
}

// slot is one sender of a loop: in the open model one of the connections
// that carry a request at a time (with a connection per endpoint, as the
// goroutine engine's workers), in the closed model one virtual user.
type slot struct {
	id     int
	conns  []*loopConn // endpoint index -> connection, nil until dialed
	busy   bool
	picker *picker // closed model: the user's own
	// The request in flight.
	target   int
	intended time.Duration // offsets from the start of the run
	sent     time.Duration
	deadline time.Duration
	conn     *loopConn
	fresh    bool // conn was dialed for this request
	retried  bool
	// Closed model: thinking until readyAt.
	thinking bool
	readyAt  time.Duration
}

// loopConn is one non-blocking connection of a loop.
type loopConn struct {
	fd         int // -1 when closed
	ep         int
	slot       *slot
	connecting bool
	dialedAt   time.Duration
	writing    bool // EPOLLOUT is armed: the request did not fit at once
	wrote      int
	used       bool   // has carried a response: a failure may be a stale connection
	carry      []byte // an incomplete line left by the parser
	// doneAt is when the last bytes read arrived, by the kernel's receive
	// timestamp (0 without one).
	doneAt time.Duration
	parser h1Parser
}

// pending is an arrival: the one a loop holds next, or one waiting for a
// free slot of its loop.
type pending struct {
	intended time.Duration
	target   int
}

// eventLoop is one event loop: its epoll set, eventfd (and timerfd, used
// where the kernel lacks epoll_pwait2), its slots
// and the arrivals waiting for one.
type eventLoop struct {
	le    *loopEngine
	e     *engine
	id    int
	addrs []unix.Sockaddr // endpoint index -> address: connect writes into it, so each loop has its own
	epfd  int
	// epfile holds epfd in Go's netpoller: the loop waits for its epoll set
	// to become readable there (see poll), and closing it closes epfd.
	epfile   *os.File
	epconn   syscall.RawConn
	deadline time.Duration // epfile's read deadline as last set
	readyFn  func(uintptr) bool
	polled   int // what the last ready call found
	pollErr  error
	timer    int
	wakefd   int
	slots    []*slot
	idle     []*slot   // open model: free slots
	queue    []pending // open model: arrivals waiting for a free slot, oldest first
	head     int       // queue[head:] are waiting
	byFD     []*loopConn
	buf      []byte // read buffer shared by the loop's connections
	events   [128]unix.EpollEvent

	next    pending // open model: the next arrival this loop holds
	hasNext bool
	// ahead holds the arrivals after next that the loop has taken from the
	// walk to see how many it can send in one wake (see batchWake), in
	// order; ahead[aheadAt:] are still to send. walkEnded says the walk
	// had no more to give.
	ahead     []pending
	aheadAt   int
	walkEnded bool
	schedOver bool
	thinkers  []*slot // closed model: users thinking, in order of readyAt
	busy      int
	sweepGap  time.Duration
	nextSweep time.Duration
	timerAt   time.Duration // when the timerfd is armed for; 0 disarmed
	pwait2    bool          // the kernel has epoll_pwait2 (see poll)
	// stamped says the last read brought the kernel's receive timestamp:
	// responses may then wait in their sockets until the loop's next
	// arrival (see poll). The kernel starts stamping a few packets after
	// the first socket asks (it turns the stamps on in a deferred work
	// item) and then stamps every packet while any socket wants them.
	stamped  bool
	outWaits int // connections waiting for EPOLLOUT (connecting or writing)
	iov      unix.Iovec
	msg      unix.Msghdr
	oob      [64]byte
	yielded  time.Duration // when the loop last let other goroutines run
	// slackTID is the thread whose timer slack the loop last set to 1 ns
	// (see exact).
	slackTID int
	s        sample
}

func newEventLoop(le *loopEngine, id int) (*eventLoop, error) {
	l := &eventLoop{le: le, e: le.e, id: id, epfd: -1, timer: -1, wakefd: -1, buf: make([]byte, 64*1024)}
	l.readyFn = l.ready
	for _, a := range le.tcp {
		if ip4 := a.IP.To4(); ip4 != nil {
			sa := &unix.SockaddrInet4{Port: a.Port}
			copy(sa.Addr[:], ip4)
			l.addrs = append(l.addrs, sa)
		} else {
			sa := &unix.SockaddrInet6{Port: a.Port}
			copy(sa.Addr[:], a.IP.To16())
			l.addrs = append(l.addrs, sa)
		}
	}
	var err error
	if l.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("epoll_create: %w", err)
	}
	if err = unix.SetNonblock(l.epfd, true); err == nil {
		l.epfile = os.NewFile(uintptr(l.epfd), "epoll")
		l.epconn, err = l.epfile.SyscallConn()
	}
	if err != nil {
		l.closeFDs()
		return nil, fmt.Errorf("epoll in the netpoller: %w", err)
	}
	if l.timer, err = unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC); err != nil {
		l.closeFDs()
		return nil, fmt.Errorf("timerfd_create: %w", err)
	}
	if l.wakefd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		l.closeFDs()
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	_, err = rawEpollWait2(l.epfd, l.events[:], 0)
	l.pwait2 = err == nil && !noPwait2.Load()
	// The timerfd is edge-triggered: each expiry is one event, and its
	// count never needs reading.
	for fd, events := range map[int]uint32{l.timer: unix.EPOLLIN | unix.EPOLLET, l.wakefd: unix.EPOLLIN} {
		if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: events, Fd: int32(fd)}); err != nil {
			l.closeFDs()
			return nil, fmt.Errorf("epoll_ctl: %w", err)
		}
	}
	// Timeouts and ramps are checked on a sweep of the slots: a request
	// times out between 100% and 105% of its timeout.
	gap := min(l.e.opts.Timeout, l.e.opts.ConnectTimeout) / 20
	if l.e.opts.Model == Closed {
		gap = min(gap, 10*time.Millisecond)
	}
	l.sweepGap = min(max(gap, time.Millisecond), 100*time.Millisecond)
	return l, nil
}

func (l *eventLoop) closeFDs() {
	if l.epfile != nil {
		l.epfile.Close()
		l.epfile, l.epfd = nil, -1
	}
	for _, fd := range []*int{&l.epfd, &l.timer, &l.wakefd} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
}

// wake interrupts the loop's epoll_wait.
func (l *eventLoop) wake() {
	one := [8]byte{1}
	_, _ = unix.Write(l.wakefd, one[:])
}

func (l *eventLoop) now() time.Duration { return time.Since(l.e.start) }

// run is the loop: it returns when its share of the run is over, or at
// once when the run is abandoned.
func (l *eventLoop) run(ctx context.Context) {
	defer l.closeConns()
	l.exact()
	if l.e.opts.Model == Open {
		l.idle = append(l.idle, l.slots...)
		l.takeArrival()
	}
	for {
		now := l.now()
		if l.e.stopping.Load() {
			l.abandonAll()
			return
		}
		stopped := ctx.Err() != nil
		sweepDue := now >= l.nextSweep
		if sweepDue {
			l.sweep(now)
			l.nextSweep = now + l.sweepGap
		}
		if l.e.opts.Model == Open {
			l.dispatchDue(now, stopped)
			if l.schedOver && l.busy == 0 && l.head == len(l.queue) {
				return
			}
		} else if l.usersTurn(now, stopped, sweepDue) {
			return
		}
		n, err := l.poll(l.wakeAt())
		if err != nil {
			// Nothing in the loop can repair its epoll set: give up what
			// is in flight as the goroutine engine does on abandon.
			l.abandonAll()
			return
		}
		for i := 0; i < n; i++ {
			l.onEvent(l.events[i])
		}
	}
}

// wakeAt is the offset the loop must be awake by: its next arrival (open
// model) or the first user to finish thinking (closed), or its next sweep.
func (l *eventLoop) wakeAt() time.Duration {
	at := l.nextSweep
	switch {
	case l.hasNext:
		at = min(at, l.batchWake())
	case len(l.thinkers) > 0:
		at = min(at, l.thinkers[0].readyAt)
	}
	return at
}

// directWait is the longest wait a loop spends in epoll_pwait2 itself,
// holding its P; a longer one parks the loop in Go's netpoller until
// directWait/2 before it ends. yieldGap is how often a loop that only waits
// directly lets the other goroutines of the process (the recorder's
// interval, a progress line, signal handling) have the P.
const (
	directWait = 2 * time.Millisecond
	yieldGap   = time.Millisecond
)

// poll returns the loop's next events, waiting for them until the offset
// until at most. A short wait (the next arrival at 2,000/s is 500 µs away)
// is one epoll_pwait2 with a nanosecond timeout, made raw, as wrk's and
// wrk2's loops wait in epoll_wait: no timer to re-arm and no hand-off
// through the Go scheduler. A long one parks in Go's netpoller, on the
// epoll set as one descriptor, so that an idle loop costs no thread and
// the rest of the process runs meanwhile. Where the kernel lacks
// epoll_pwait2 (before Linux 5.11, or refused by a seccomp profile) every
// wait parks, with the timerfd in the epoll set for the sub-millisecond
// deadline the netpoller cannot give.
func (l *eventLoop) poll(until time.Duration) (int, error) {
	now := l.now()
	if !l.pwait2 {
		l.armTimer(until, now)
		return l.park(until)
	}
	if until-now > directWait {
		if n, err := l.park(until - directWait/2); n > 0 || err != nil {
			return n, err
		}
		l.yielded = l.now()
		l.exact()
	} else if now-l.yielded >= yieldGap {
		runtime.Gosched()
		l.yielded = l.now()
		l.exact()
	}
	if l.lazy() {
		// The responses in flight may wait in their sockets until the
		// next arrival: they are read then, timestamped by the kernel
		// when they arrived, and a request costs the loop one wake
		// instead of two.
		rawSleep(until - l.now())
		n, err := rawEpollWait(l.epfd, l.events[:])
		if errors.Is(err, unix.EINTR) {
			return 0, nil
		}
		return n, err
	}
	n, err := rawEpollWait2(l.epfd, l.events[:], max(until-l.now(), 0))
	if errors.Is(err, unix.EINTR) {
		return 0, nil
	}
	return n, err
}

// exact sets the timer slack of the thread the loop runs on to 1 ns, once
// per thread: Linux lets a sleep or an epoll timeout of a normal thread end
// up to 50 µs late (its default slack), and every arrival the loop waits
// for would be sent that much later. The loop may resume on another thread
// after parking or yielding, hence the check of the thread's id, a raw
// system call.
func (l *eventLoop) exact() {
	if tid := unix.Gettid(); tid != l.slackTID {
		_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
		l.slackTID = tid
	}
}

// lazy reports whether the loop may leave responses unread until its next
// timed event: in the open model (a closed-model user waits for its
// response to send the next request), with requests in flight, once reads
// have brought the kernel's receive timestamps, and with no connection
// waiting to connect or to write the rest of a request (which would be
// late by the wait).
func (l *eventLoop) lazy() bool {
	return l.e.opts.Model == Open && l.stamped && l.busy > 0 && l.outWaits == 0
}

// park waits in Go's netpoller for the epoll set to become ready, until
// the offset until at most, and returns what is ready then.
func (l *eventLoop) park(until time.Duration) (int, error) {
	if until != l.deadline {
		_ = l.epfile.SetReadDeadline(l.e.start.Add(until))
		l.deadline = until
	}
	l.polled, l.pollErr = 0, nil
	if err := l.epconn.Read(l.readyFn); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, nil
		}
		return 0, err
	}
	return l.polled, l.pollErr
}

// ready takes the events that are ready now, without waiting, and reports
// whether there were any (or an error).
func (l *eventLoop) ready(fd uintptr) bool {
	n, err := rawEpollWait(int(fd), l.events[:])
	if errors.Is(err, unix.EINTR) {
		n, err = 0, nil
	}
	l.polled, l.pollErr = n, err
	return n > 0 || err != nil
}

// The loop's system calls on its non-blocking descriptors never block, so
// they are made raw: without telling the Go scheduler, which would otherwise
// wake its monitor thread (and, with every P busy, hand the P to another
// thread) around each one, for more CPU than the call itself.

func rawEpollWait(epfd int, events []unix.EpollEvent) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// rawEpollWait2 waits up to timeout for events on epfd.
func rawEpollWait2(epfd int, events []unix.EpollEvent, timeout time.Duration) (int, error) {
	ts := unix.NsecToTimespec(int64(timeout))
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT2, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), uintptr(unsafe.Pointer(&ts)), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawWrite(fd int, b []byte) (int, error) {
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// recv reads from fd into b, as read(2) does, and returns with it the
// kernel's receive timestamp of the last bytes read (Unix nanoseconds; 0
// without one). The message header lives in the loop, so that a read
// allocates nothing.
func (l *eventLoop) recv(fd int, b []byte) (int, int64, error) {
	l.iov.Base = &b[0]
	l.iov.SetLen(len(b))
	l.msg = unix.Msghdr{Iov: &l.iov, Iovlen: 1, Control: &l.oob[0]}
	l.msg.SetControllen(len(l.oob))
	n, _, e := unix.RawSyscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&l.msg)), 0)
	if e != 0 {
		return 0, 0, e
	}
	return int(n), rxStamp(l.oob[:l.msg.Controllen]), nil
}

// rxStamp finds the SCM_TIMESTAMPNS control message in oob.
func rxStamp(oob []byte) int64 {
	head := unix.CmsgLen(0)
	for len(oob) >= head {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		size := int(h.Len)
		if size < head || size > len(oob) {
			return 0
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && size >= head+int(unsafe.Sizeof(unix.Timespec{})) {
			return (*unix.Timespec)(unsafe.Pointer(&oob[head])).Nano()
		}
		oob = oob[min(unix.CmsgSpace(size-head), len(oob)):]
	}
	return 0
}

// rawSleep sleeps for d (nothing for d <= 0).
func rawSleep(d time.Duration) {
	if d <= 0 {
		return
	}
	ts := unix.NsecToTimespec(int64(d))
	_, _, _ = unix.RawSyscall(unix.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0)
}

func rawTimerSet(fd int, spec *unix.ItimerSpec) {
	_, _, _ = unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, uintptr(fd), 0, uintptr(unsafe.Pointer(spec)), 0, 0, 0)
}

func (l *eventLoop) onEvent(ev unix.EpollEvent) {
	fd := int(ev.Fd)
	switch fd {
	case l.timer:
		l.timerAt = 0
		return
	case l.wakefd:
		var b [8]byte
		_, _ = unix.Read(l.wakefd, b[:])
		return
	}
	if fd >= len(l.byFD) || l.byFD[fd] == nil {
		return
	}
	c := l.byFD[fd]
	switch {
	case c.connecting:
		l.onConnected(c)
	case ev.Events&unix.EPOLLOUT != 0 && c.writing:
		l.write(c)
	}
	if c.fd == fd && ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 && !c.connecting {
		l.read(c)
	}
}

// armTimer sets the timerfd for the offset at, when the loop waits in the
// netpoller only (see poll).
func (l *eventLoop) armTimer(at, now time.Duration) {
	if at == l.timerAt {
		return
	}
	var spec unix.ItimerSpec
	// A zero value disarms the timer, so a due time waits 1 ns.
	spec.Value = unix.NsecToTimespec(int64(max(at-now, 1)))
	rawTimerSet(l.timer, &spec)
	l.timerAt = at
}

// takeArrival makes the loop's next arrival the first it holds ahead, or
// the next of the shared schedule.
func (l *eventLoop) takeArrival() {
	if l.aheadAt < len(l.ahead) {
		l.next, l.hasNext = l.ahead[l.aheadAt], true
		if l.aheadAt++; l.aheadAt == len(l.ahead) {
			l.ahead, l.aheadAt = l.ahead[:0], 0
		}
		return
	}
	ok := false
	if !l.walkEnded {
		var off time.Duration
		var target int
		off, target, ok = l.le.nextArrival()
		l.next = pending{intended: off, target: target}
	}
	l.hasNext = ok
	if !ok && !l.schedOver {
		l.schedOver = true
		l.le.loopScheduleEnded()
	}
}

// held is how many arrivals the loop has taken from the walk and not yet
// sent, queued or dropped.
func (l *eventLoop) held() int64 {
	if !l.hasNext {
		return 0
	}
	return 1 + int64(len(l.ahead)-l.aheadAt)
}

// dropHeld forgets the arrivals the loop holds, which are not counted.
func (l *eventLoop) dropHeld() {
	l.hasNext = false
	l.ahead, l.aheadAt = l.ahead[:0], 0
}

// sendSlack is how late a loop may send an arrival on purpose, so that
// arrivals close together leave in one wake: a loop that would sleep until
// its next arrival sleeps instead until the last one due within sendSlack
// of it, and sends them all then. A wake costs more than a request on a
// virtual machine (the switch to idle and back, and the interrupt that
// wakes the target when a write finds it asleep); at 10,000/s (an arrival
// every 100 µs) the loop wakes for every other arrival and sends the first
// 100 µs late, and arrivals further apart than sendSlack are each sent on
// time. An arrival is never sent before its intended time, and its lag is
// recorded (Stats.SendLag), as is any lateness: latency is still measured
// from the intended start. The slack sits clear of the gap at 10,000/s, so
// that the rounding of intended times cannot split the pairs there.
const sendSlack = 150 * time.Microsecond

// batchWake is when the loop wakes for its next arrivals: the latest of
// them due within sendSlack of the first (the first when none is), looking
// as far ahead in the walk as that needs (maxBatch arrivals at most).
func (l *eventLoop) batchWake() time.Duration {
	wake := l.next.intended
	limit := wake + sendSlack
	for i := l.aheadAt; ; i++ {
		if i == len(l.ahead) {
			if l.walkEnded || i-l.aheadAt >= maxBatch {
				return wake
			}
			off, target, ok := l.le.nextArrival()
			if !ok {
				l.walkEnded = true
				return wake
			}
			l.ahead = append(l.ahead, pending{intended: off, target: target})
		}
		if l.ahead[i].intended > limit {
			return wake
		}
		wake = l.ahead[i].intended
	}
}

// maxBatch is how many due arrivals a loop takes before it looks at its
// sockets again.
const maxBatch = 256

// dispatchDue sends (or queues, or drops) every arrival that is due. Once
// ctx has ended no arrival is taken any more.
func (l *eventLoop) dispatchDue(now time.Duration, stopped bool) {
	if stopped && !l.schedOver {
		l.dropHeld()
		l.schedOver = true
		l.le.loopScheduleEnded()
	}
	if !l.schedOver && now > l.le.sendUntil {
		l.le.dropRest(l.held())
		l.dropHeld()
		l.schedOver = true
		l.le.loopScheduleEnded()
	}
	limit := int64(l.e.opts.MaxInFlight)
	// A batch is bounded, so that a schedule denser than the loop can send
	// still leaves it time for its sockets and for noticing sendUntil; the
	// timer, armed for a due arrival, wakes the loop again at once.
	for batch := 0; batch < maxBatch && l.hasNext && l.next.intended <= now; batch++ {
		a := l.next
		l.takeArrival()
		l.e.scheduled.Add(1)
		if l.e.inflight.Load() >= limit {
			l.e.dropped.Add(1)
			continue
		}
		l.e.inflight.Add(1)
		if len(l.idle) > 0 {
			s := l.idle[len(l.idle)-1]
			l.idle = l.idle[:len(l.idle)-1]
			l.startRequest(s, a.target, a.intended, now)
		} else {
			l.enqueue(a)
		}
	}
}

func (l *eventLoop) enqueue(a pending) {
	if l.head > 0 && l.head == len(l.queue) {
		l.queue, l.head = l.queue[:0], 0
	}
	l.queue = append(l.queue, a)
}

// usersTurn starts the closed-model users whose thinking is over and, on a
// scan (the first turn, then each sweep, as a ramp moves), every free user
// the schedule makes active. It reports whether the loop's share of the
// run is over.
func (l *eventLoop) usersTurn(now time.Duration, stopped, scan bool) bool {
	over := stopped || now >= l.le.end
	for len(l.thinkers) > 0 && (over || l.thinkers[0].readyAt <= now) {
		s := l.thinkers[0]
		l.thinkers = l.thinkers[1:]
		s.thinking = false
		l.tryUser(s, now, over)
	}
	if scan && !over {
		for _, s := range l.slots {
			if !s.busy && !s.thinking {
				l.tryUser(s, now, over)
			}
		}
	}
	return over && l.busy == 0
}

// tryUser sends free user s's next request if the run is not over and the
// schedule makes the user active.
func (l *eventLoop) tryUser(s *slot, now time.Duration, over bool) {
	if !over && l.le.users.Active(s.id, now) {
		l.userSend(s, now)
	}
}

// userSend starts a closed-model user's next request.
func (l *eventLoop) userSend(s *slot, now time.Duration) {
	l.e.scheduled.Add(1)
	target := s.picker.next()
	l.startRequest(s, target, now, now)
}

// startRequest hands target's request to slot s at now.
func (l *eventLoop) startRequest(s *slot, target int, intended, now time.Duration) {
	l.e.sent.Add(1)
	if off := int64(now); off > l.e.lastSend.Load() {
		l.e.lastSend.Store(off)
	}
	s.busy, s.target, s.intended, s.sent = true, target, intended, now
	s.deadline = now + l.e.opts.Timeout
	s.retried = false
	l.busy++
	l.attempt(s, now)
}

// attempt puts s's request on its connection, dialing one if needed.
func (l *eventLoop) attempt(s *slot, now time.Duration) {
	ep := l.e.targetEP[s.target]
	c := s.conns[ep]
	if c == nil {
		c = &loopConn{fd: -1, ep: ep, slot: s}
		s.conns[ep] = c
	}
	s.conn, s.fresh = c, false
	c.parser.reset(l.e.opts.Targets[s.target].Method == http.MethodHead)
	c.wrote, c.doneAt = 0, 0
	if c.fd < 0 {
		s.fresh = true
		if err := l.dial(c, now); err != nil {
			l.fail(s, err)
			return
		}
		if c.connecting {
			return
		}
	}
	l.write(c)
}

// dial opens c's non-blocking connection.
func (l *eventLoop) dial(c *loopConn, now time.Duration) error {
	sa := l.addrs[c.ep]
	domain := unix.AF_INET
	if _, ok := sa.(*unix.SockaddrInet6); ok {
		domain = unix.AF_INET6
	}
	fd, err := unix.Socket(domain, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return l.opError("dial", c, err)
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	// The kernel's receive timestamp on each read says when a response
	// arrived however late the loop reads it.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	err = unix.Connect(fd, sa)
	if err != nil && !errors.Is(err, unix.EINPROGRESS) {
		unix.Close(fd)
		return l.opError("dial", c, err)
	}
	c.fd, c.connecting, c.dialedAt, c.used, c.writing = fd, err != nil, now, false, false
	c.carry = c.carry[:0]
	events := uint32(unix.EPOLLIN | unix.EPOLLRDHUP)
	if c.connecting {
		events |= unix.EPOLLOUT
	}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: events, Fd: int32(fd)}); err != nil {
		unix.Close(fd)
		c.fd = -1
		return l.opError("dial", c, err)
	}
	if c.connecting {
		l.outWaits++
	}
	for fd >= len(l.byFD) {
		l.byFD = append(l.byFD, nil)
	}
	l.byFD[fd] = c
	return nil
}

// onConnected finishes a non-blocking connect and sends the request.
func (l *eventLoop) onConnected(c *loopConn) {
	soErr, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err == nil && soErr != 0 {
		err = unix.Errno(soErr)
	}
	if err != nil {
		l.fail(c.slot, l.opError("dial", c, err))
		return
	}
	c.connecting = false
	l.outWaits--
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(c.fd)})
	l.write(c)
}

// write sends what is left of the slot's request; what does not fit waits
// for EPOLLOUT.
func (l *eventLoop) write(c *loopConn) {
	s := c.slot
	raw := l.e.raw[s.target]
	for c.wrote < len(raw) {
		n, err := rawWrite(c.fd, raw[c.wrote:])
		if errors.Is(err, unix.EAGAIN) {
			if !c.writing {
				c.writing = true
				l.outWaits++
				_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLOUT, Fd: int32(c.fd)})
			}
			return
		}
		if err != nil {
			l.fail(s, l.opError("write", c, err))
			return
		}
		c.wrote += n
	}
	if c.writing {
		c.writing = false
		l.outWaits--
		_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(c.fd)})
	}
}

// read takes what arrived on c and feeds it to the parser.
func (l *eventLoop) read(c *loopConn) {
	off := copy(l.buf, c.carry)
	n, stamp, err := l.recv(c.fd, l.buf[off:])
	if errors.Is(err, unix.EAGAIN) {
		return
	}
	if s := c.slot; !s.busy || s.conn != c {
		// Bytes or a close on a connection with nothing in flight: the
		// server closed an idle connection (or sent what nobody asked
		// for); either way it cannot carry the next request.
		l.closeConn(c)
		return
	}
	if err != nil {
		l.fail(c.slot, l.opError("read", c, err))
		return
	}
	if n == 0 {
		if perr := c.parser.eof(off); perr != nil {
			l.fail(c.slot, l.opError("read", c, perr))
			return
		}
		l.complete(c)
		return
	}
	l.stampArrival(c, stamp)
	b := l.buf[:off+n]
	used, done, perr := c.parser.feed(b)
	c.carry = append(c.carry[:0], b[used:]...)
	switch {
	case perr != nil:
		l.fail(c.slot, l.opError("read", c, perr))
	case done:
		l.complete(c)
	}
}

// stampArrival notes when the bytes just read from c arrived, by the
// kernel's receive timestamp, as an offset of the run; a read without one
// turns the loop's lazy reading off until one comes with it (see poll).
func (l *eventLoop) stampArrival(c *loopConn, stamp int64) {
	l.stamped = stamp != 0
	if stamp == 0 {
		c.doneAt = 0
		return
	}
	t := time.Now()
	c.doneAt = t.Sub(l.e.start) - time.Duration(max(t.UnixNano()-stamp, 0))
}

// complete records the slot's response and frees the slot.
func (l *eventLoop) complete(c *loopConn) {
	s := c.slot
	c.used = true
	p := &c.parser
	now := l.now()
	end := now
	if c.doneAt > 0 {
		// The response arrived before the loop read it: it ended then.
		end = max(min(c.doneAt, now), s.sent)
	}
	l.s = sample{status: p.status, in: p.consumed, out: int64(len(l.e.raw[s.target]))}
	if p.status >= 400 {
		l.s.body, l.s.bodyMore = p.failureBody()
	}
	if !p.keep {
		l.closeConn(c)
	}
	l.finish(s, end, now)
}

// fail ends the slot's request with err: once more on a new connection if
// a reused one turned out closed before any of the response arrived, else
// as a transport error.
func (l *eventLoop) fail(s *slot, err error) {
	c := s.conn
	received := c.parser.consumed > 0 || len(c.carry) > 0
	l.closeConn(c)
	if !s.fresh && !s.retried && !received && isStaleConn(err) {
		s.retried = true
		l.attempt(s, l.now())
		return
	}
	l.s = sample{errClass: classify(err), err: err, out: int64(len(l.e.raw[s.target]))}
	now := l.now()
	l.finish(s, now, now)
}

// finish records the slot's request, which ended at end, and gives the
// slot its next work at now.
func (l *eventLoop) finish(s *slot, end, now time.Duration) {
	s.busy = false
	l.busy--
	closed := l.e.opts.Model == Closed
	l.s.service = end - s.sent
	if closed {
		l.s.latency = l.s.service
	} else {
		l.s.latency, l.s.lag, l.s.hasLag = end-s.intended, s.sent-s.intended, true
		l.e.inflight.Add(-1)
	}
	l.e.rec.record(l.id, s.target, &l.s)
	if closed {
		l.userDone(s, now)
		return
	}
	if l.e.stopping.Load() {
		l.idle = append(l.idle, s)
		return
	}
	if l.head < len(l.queue) {
		a := l.queue[l.head]
		l.head++
		l.startRequest(s, a.target, a.intended, now)
		return
	}
	l.idle = append(l.idle, s)
}

// userDone sends a closed-model user's next request, or lets it think.
func (l *eventLoop) userDone(s *slot, now time.Duration) {
	if l.e.opts.ThinkTime > 0 {
		s.thinking, s.readyAt = true, now+l.e.opts.ThinkTime
		l.thinkers = append(l.thinkers, s)
		return
	}
	l.tryUser(s, now, now >= l.le.end || l.e.stopping.Load())
}

// sweep fails the requests whose timeout (or connect timeout) has passed.
func (l *eventLoop) sweep(now time.Duration) {
	for _, s := range l.slots {
		if !s.busy {
			continue
		}
		c := s.conn
		if now >= s.deadline || (c.connecting && now-c.dialedAt >= l.e.opts.ConnectTimeout) {
			s.retried = true // a timeout is never retried
			l.fail(s, l.opError("read", c, os.ErrDeadlineExceeded))
		}
	}
}

// abandonAll gives up every request in flight or waiting: each is counted
// as unfinished, as the goroutine engine counts them.
func (l *eventLoop) abandonAll() {
	for _, s := range l.slots {
		if s.busy {
			s.busy = false
			l.busy--
			l.e.unfinished.Add(1)
			if l.e.opts.Model == Open {
				l.e.inflight.Add(-1)
			}
		}
	}
	for ; l.head < len(l.queue); l.head++ {
		l.e.unfinished.Add(1)
		l.e.inflight.Add(-1)
	}
	if !l.schedOver && l.e.opts.Model == Open {
		l.schedOver = true
		l.le.loopScheduleEnded()
	}
}

func (l *eventLoop) closeConn(c *loopConn) {
	if c.fd < 0 {
		return
	}
	l.byFD[c.fd] = nil
	unix.Close(c.fd) // closing also takes it out of the epoll set
	if c.connecting || c.writing {
		l.outWaits--
	}
	c.fd, c.connecting, c.writing = -1, false, false
	c.carry = c.carry[:0]
}

func (l *eventLoop) closeConns() {
	for _, s := range l.slots {
		for _, c := range s.conns {
			if c != nil {
				l.closeConn(c)
			}
		}
	}
}

// opError describes a failure on c the way the net package would, so that
// failure samples read the same from both engines.
func (l *eventLoop) opError(op string, c *loopConn, err error) error {
	var errno unix.Errno
	if errors.As(err, &errno) {
		err = os.NewSyscallError(syscallName(op), errno)
	}
	return &net.OpError{Op: op, Net: "tcp", Addr: l.le.tcp[c.ep], Err: err}
}

func syscallName(op string) string {
	if op == "dial" {
		return "connect"
	}
	return op
}
