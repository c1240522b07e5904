package loadgen

import (
	"context"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// sleeper waits until a request's intended start. The Go runtime rounds an
// idle sleep shorter than a millisecond up to a whole millisecond (its
// netpoller waits in milliseconds), which at 2,000 requests a second would
// send most requests up to a millisecond late. A timerfd read through the
// netpoller wakes the goroutine within microseconds instead, without
// spinning a core.
type sleeper struct {
	f   *os.File
	fd  int
	buf [8]byte
	fb  *timerSleeper // used if the timerfd cannot be made
}

// maxChunk bounds one wait so that a cancelled context is noticed promptly.
const maxChunk = 50 * time.Millisecond

func newSleeper() *sleeper {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return &sleeper{fb: newTimerSleeper()}
	}
	return &sleeper{f: os.NewFile(uintptr(fd), "timerfd"), fd: fd}
}

// until waits for t and reports false if ctx ended first.
func (s *sleeper) until(ctx context.Context, t time.Time) bool {
	if s.fb != nil {
		return s.fb.until(ctx, t)
	}
	for {
		if ctx.Err() != nil {
			return false
		}
		wait := time.Until(t)
		if wait <= 0 {
			return true
		}
		wait = min(wait, maxChunk)
		spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(wait))}
		if err := unix.TimerfdSettime(s.fd, 0, &spec, nil); err != nil {
			s.fb = newTimerSleeper()
			return s.fb.until(ctx, t)
		}
		if _, err := s.f.Read(s.buf[:]); err != nil {
			s.fb = newTimerSleeper()
			return s.fb.until(ctx, t)
		}
	}
}

func (s *sleeper) close() {
	if s.f != nil {
		s.f.Close()
	}
	if s.fb != nil {
		s.fb.close()
	}
}
