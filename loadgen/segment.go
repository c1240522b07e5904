package loadgen

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Segment is one of Count interleaved shares of a schedule, numbered from 0
// like the completion index of a Kubernetes Indexed Job. In the open model
// segment I sends the schedule's arrivals I, I+Count, I+2*Count, ... at
// their intended times; in the closed model it runs users I, I+Count, ...
// of the whole schedule. Every request (or user) of the schedule belongs to
// exactly one segment, so Count generators together send the schedule one
// generator would, and each share stays spread over the whole run.
type Segment struct {
	Index, Count int
}

// ParseSegment parses "I/N": the I-th (from 0) of N segments.
func ParseSegment(s string) (Segment, error) {
	is, ns, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	if !ok || err1 != nil || err2 != nil {
		return Segment{}, fmt.Errorf("segment %q: want I/N like 0/3 (segments count from 0)", s)
	}
	g := Segment{Index: i, Count: n}
	return g, g.Validate()
}

// Validate says why a segment is not one of its shares.
func (g Segment) Validate() error {
	if g.Count < 1 {
		return fmt.Errorf("segment %d/%d: the number of segments must be at least 1", g.Index, g.Count)
	}
	if g.Index < 0 || g.Index >= g.Count {
		return fmt.Errorf("segment %d/%d: the index must be from 0 to %d", g.Index, g.Count, g.Count-1)
	}
	return nil
}

func (g Segment) String() string { return fmt.Sprintf("%d/%d", g.Index, g.Count) }

// whole reports the segment that is the whole schedule (the zero value too).
func (g Segment) whole() bool { return g.Count <= 1 }

// Of returns the segment's share of s. The share keeps s's length and every
// intended time; its target and expected arrivals are its own part of s's.
func (g Segment) Of(s Schedule) (Schedule, error) {
	if g.whole() && g.Index == 0 {
		return s, nil
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	switch s := s.(type) {
	case OpenSchedule:
		return openShare{s: s, g: g}, nil
	case ClosedSchedule:
		return closedShare{s: s, g: g}, nil
	}
	return nil, fmt.Errorf("segment %s: a %T is neither an open nor a closed schedule", g, s)
}

// openShare is every Count-th arrival of an open schedule from Index.
type openShare struct {
	s OpenSchedule
	g Segment
}

func (o openShare) Duration() time.Duration { return o.s.Duration() }
func (o openShare) TargetAt(elapsed time.Duration) float64 {
	return o.s.TargetAt(elapsed) / float64(o.g.Count)
}
func (o openShare) ExpectedArrivals() float64 { return o.s.ExpectedArrivals() / float64(o.g.Count) }

// Planned is the number of arrivals k < n with k ≡ Index (mod Count), where
// n is the whole schedule's count.
func (o openShare) Planned() int64 { return o.g.share(o.s.Planned()) }

func (o openShare) Arrivals() Arrivals {
	if s, ok := o.s.(strided); ok {
		return s.arrivalsFrom(o.g.Index, o.g.Count)
	}
	return &shareWalk{a: o.s.Arrivals(), g: o.g}
}

func (o openShare) peak() float64 {
	if p, ok := o.s.(interface{ peak() float64 }); ok {
		return p.peak() / float64(o.g.Count)
	}
	return 0
}

// strided is a schedule that walks a share of its arrivals directly,
// without computing the others' send times.
type strided interface {
	arrivalsFrom(first, stride int) Arrivals
}

// share is how many of the items 0..n-1 fall in the segment.
func (g Segment) share(n int64) int64 {
	if n <= int64(g.Index) {
		return 0
	}
	return (n - int64(g.Index) + int64(g.Count) - 1) / int64(g.Count)
}

// shareWalk walks the whole schedule and keeps the segment's arrivals, for
// schedules that cannot walk their share directly: walking the same sequence
// is what makes the shares add up to the whole exactly.
type shareWalk struct {
	a Arrivals
	g Segment
	k int
}

func (w *shareWalk) Next() (time.Duration, bool) {
	for {
		off, ok := w.a.Next()
		if !ok {
			return 0, false
		}
		k := w.k
		w.k++
		if k%w.g.Count == w.g.Index {
			return off, true
		}
	}
}

// closedShare runs users Index, Index+Count, ... of a closed schedule: its
// user i is the whole schedule's user Index+i*Count, so when N users do not
// divide evenly the remainder is spread one each over the first segments,
// and a ramp adds and removes users across all segments in turn.
type closedShare struct {
	s ClosedSchedule
	g Segment
}

func (c closedShare) global(user int) int       { return c.g.Index + user*c.g.Count }
func (c closedShare) Duration() time.Duration   { return c.s.Duration() }
func (c closedShare) ExpectedArrivals() float64 { return 0 }
func (c closedShare) Planned() int64            { return int64(c.Users()) }
func (c closedShare) Users() int                { return int(c.g.share(int64(c.s.Users()))) }
func (c closedShare) Active(user int, elapsed time.Duration) bool {
	return c.s.Active(c.global(user), elapsed)
}

// TargetAt counts the segment's users among the whole schedule's active
// ones: users j < u with j ≡ Index (mod Count).
func (c closedShare) TargetAt(elapsed time.Duration) float64 {
	u := c.s.TargetAt(elapsed)
	if u <= float64(c.g.Index) {
		return 0
	}
	return math.Ceil((u - float64(c.g.Index)) / float64(c.g.Count))
}
