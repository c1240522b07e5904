package loadgen

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// The shares of N segments together are the one-process schedule: every
// intended time once, none moved, for any N.
func TestSegmentsPartitionTheOpenSchedule(t *testing.T) {
	t.Parallel()
	schedules := []struct {
		name string
		s    OpenSchedule
	}{
		{"constant 1/s", Constant{Rate: 1, For: 10 * time.Second}},
		{"constant 997/s", Constant{Rate: 997, For: 3 * time.Second}},
		{"constant 20k/s", Constant{Rate: 20000, For: time.Second}},
		{"ramp up hold down", Ramp{Start: 0, Stages: []Stage{{Duration: time.Second, Target: 3000}, {Duration: time.Second, Target: 3000}, {Duration: 500 * time.Millisecond, Target: 0}}}},
		{"steps", Ramp{Start: 50, Stages: []Stage{{Duration: time.Second, Target: 50, Step: true}, {Duration: time.Second, Target: 777, Step: true}}}},
		{"poisson 1500/s", Poisson{Rate: Ramp{Start: 1500, Stages: []Stage{{Duration: 2 * time.Second, Target: 1500}}}, Seed: 7}},
		{"poisson ramp", Poisson{Rate: Ramp{Start: 10, Stages: []Stage{{Duration: 2 * time.Second, Target: 4000}}}, Seed: 3}},
	}
	for _, c := range schedules {
		whole := collect(t, c.s)
		if int64(len(whole)) != c.s.Planned() {
			t.Errorf("%s: walked %d arrivals, Planned says %d", c.name, len(whole), c.s.Planned())
		}
		for n := 1; n <= 7; n++ {
			var union []time.Duration
			var planned int64
			for i := 0; i < n; i++ {
				share, err := Segment{Index: i, Count: n}.Of(c.s)
				if err != nil {
					t.Fatal(err)
				}
				part := collect(t, share.(OpenSchedule))
				if int64(len(part)) != share.Planned() {
					t.Errorf("%s, segment %d/%d: walked %d, Planned says %d", c.name, i, n, len(part), share.Planned())
				}
				if share.Duration() != c.s.Duration() {
					t.Errorf("%s, segment %d/%d: length %v, want %v", c.name, i, n, share.Duration(), c.s.Duration())
				}
				union = append(union, part...)
				planned += share.Planned()
			}
			slices.Sort(union)
			if !slices.Equal(union, whole) {
				t.Errorf("%s: the %d segments' %d arrivals are not the schedule's %d", c.name, n, len(union), len(whole))
			}
			if planned != int64(len(whole)) {
				t.Errorf("%s: %d segments plan %d requests, the schedule %d", c.name, n, planned, len(whole))
			}
		}
	}
}

// In the closed model the segments split the users: at every instant the
// users active across the segments are the schedule's, each in exactly one.
func TestSegmentsSplitTheUsers(t *testing.T) {
	t.Parallel()
	schedules := []Users{
		{Start: 10, Stages: []Stage{{Duration: time.Second, Target: 10}}},
		{Start: 1, Stages: []Stage{{Duration: time.Second, Target: 1}}},
		{Start: 0, Stages: []Stage{{Duration: 2 * time.Second, Target: 23}, {Duration: time.Second, Target: 5}}},
	}
	for _, u := range schedules {
		for n := 1; n <= 7; n++ {
			shares := make([]ClosedSchedule, n)
			users := 0
			for i := range shares {
				s, err := Segment{Index: i, Count: n}.Of(u)
				if err != nil {
					t.Fatal(err)
				}
				shares[i] = s.(ClosedSchedule)
				users += shares[i].Users()
				// Remainders are spread: shares differ by one user at most.
				if d := shares[i].Users() - u.Users()/n; d < 0 || d > 1 {
					t.Errorf("%v: segment %d/%d runs %d of %d users", u, i, n, shares[i].Users(), u.Users())
				}
			}
			if users != u.Users() {
				t.Errorf("%v: %d segments run %d users, want %d", u, n, users, u.Users())
			}
			for at := time.Duration(0); at < u.Duration(); at += 37 * time.Millisecond {
				active, target := 0, 0.0
				for _, s := range shares {
					for k := 0; k < s.Users(); k++ {
						if s.Active(k, at) {
							active++
						}
					}
					target += s.TargetAt(at)
				}
				want := 0
				for k := 0; k < u.Users(); k++ {
					if u.Active(k, at) {
						want++
					}
				}
				if active != want || int(math.Ceil(target)) != want {
					t.Fatalf("%v at %v, %d segments: %d users active (targets sum to %v), want %d", u, at, n, active, target, want)
				}
			}
		}
	}
}

func TestParseSegment(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, wantErr string
		want        Segment
	}{
		{in: "0/1", want: Segment{0, 1}},
		{in: "2/3", want: Segment{2, 3}},
		{in: "3/3", wantErr: "from 0 to 2"},
		{in: "-1/3", wantErr: "from 0 to 2"},
		{in: "0/0", wantErr: "at least 1"},
		{in: "1", wantErr: "want I/N"},
		{in: "a/b", wantErr: "want I/N"},
	}
	for _, c := range cases {
		got, err := ParseSegment(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseSegment(%q) = %v, %v; want an error with %q", c.in, got, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseSegment(%q) = %v, %v", c.in, got, err)
		}
	}
}

func TestSchedulesKnowTheirOwnShape(t *testing.T) {
	t.Parallel()
	cases := []struct {
		s                Schedule
		length           time.Duration
		expected, atHalf float64
		planned          int64
		model            Model
	}{
		{Constant{Rate: 200, For: 3 * time.Second}, 3 * time.Second, 600, 200, 600, Open},
		{Ramp{Start: 0, Stages: []Stage{{Duration: 10 * time.Second, Target: 100}}}, 10 * time.Second, 500, 50, 500, Open},
		{Ramp{Start: 0, Stages: []Stage{{Duration: time.Second, Target: 3}}}, time.Second, 1.5, 1.5, 2, Open},
		{Poisson{Rate: Ramp{Start: 100, Stages: []Stage{{Duration: 4 * time.Second, Target: 100}}}, Seed: 1}, 4 * time.Second, 400, 100, -1, Open},
		{Users{Start: 4, Stages: []Stage{{Duration: 2 * time.Second, Target: 8}}}, 2 * time.Second, 0, 6, 8, Closed},
	}
	for _, c := range cases {
		name := fmt.Sprintf("%T%v", c.s, c.s)
		if got := c.s.Duration(); got != c.length {
			t.Errorf("%s: Duration %v, want %v", name, got, c.length)
		}
		if got := c.s.ExpectedArrivals(); got != c.expected {
			t.Errorf("%s: ExpectedArrivals %v, want %v", name, got, c.expected)
		}
		if got := c.s.TargetAt(c.length / 2); got != c.atHalf {
			t.Errorf("%s: TargetAt(half) %v, want %v", name, got, c.atHalf)
		}
		if c.planned >= 0 && c.s.Planned() != c.planned {
			t.Errorf("%s: Planned %d, want %d", name, c.s.Planned(), c.planned)
		}
		if got, want := MeanRate(c.s), c.expected/c.length.Seconds(); got != want {
			t.Errorf("%s: MeanRate %v, want %v", name, got, want)
		}
		if ModelOf(c.s) != c.model {
			t.Errorf("%s: model %s, want %s", name, ModelOf(c.s), c.model)
		}
	}
}
