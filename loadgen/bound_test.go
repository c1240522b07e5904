package loadgen

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// denseSchedule is n evenly spaced arrivals over d, with no rate limit: far
// more than any dispatcher sends on time.
type denseSchedule struct {
	n int64
	d time.Duration
}

type denseWalk struct {
	s denseSchedule
	k int64
}

func (s denseSchedule) Duration() time.Duration                { return s.d }
func (s denseSchedule) TargetAt(elapsed time.Duration) float64 { return float64(s.n) / s.d.Seconds() }
func (s denseSchedule) ExpectedArrivals() float64              { return float64(s.n) }
func (s denseSchedule) Planned() int64                         { return s.n }
func (s denseSchedule) Arrivals() Arrivals                     { return &denseWalk{s: s} }

func (w *denseWalk) Next() (time.Duration, bool) {
	if w.k >= w.s.n {
		return 0, false
	}
	off := time.Duration(w.k * int64(w.s.d) / w.s.n)
	w.k++
	return off, true
}

// A schedule the dispatcher cannot keep up with still ends on time: what it
// could not send by then is counted as dropped, none lost.
func TestScheduleLengthBoundsTheRun(t *testing.T) {
	t.Parallel()
	// One engine after the other: the run is CPU-bound by design, and two
	// at once would each take twice as long.
	for _, eng := range testEngines() {
		_, target := server(t, func(w http.ResponseWriter, r *http.Request) {})
		sched := denseSchedule{n: 200_000_000, d: 200 * time.Millisecond}
		grace := 100 * time.Millisecond
		began := time.Now()
		res := mustRun(t, context.Background(), Options{Engine: eng, Targets: []Target{target}, Schedule: sched, Grace: grace, MaxInFlight: 10})
		took := time.Since(began)
		// Past the schedule's end and dispatchSlack (1s), what remains is
		// counted from Planned at once; sending it all takes a minute.
		if limit := sched.d + grace + 3*time.Second; took > limit {
			t.Errorf("%s: a %v schedule of %d requests ran %v, want under %v", eng, sched.d, sched.n, took, limit)
		}
		tot := res.Total
		if tot.Scheduled != sched.n || tot.Dropped == 0 {
			t.Errorf("%s: scheduled %d (want %d), dropped %d (want some)", eng, tot.Scheduled, sched.n, tot.Dropped)
		}
		if got := tot.Completed("") + tot.Dropped + tot.Unfinished; got != tot.Scheduled {
			t.Errorf("%s: completed %d + dropped %d + unfinished %d = %d, want scheduled %d", eng, tot.Completed(""), tot.Dropped, tot.Unfinished, got, tot.Scheduled)
		}
	}
}

func TestRatesAboveTheLimitAreRefused(t *testing.T) {
	t.Parallel()
	target, _ := NewTarget("GET", "http://127.0.0.1:1/")
	cases := []struct {
		name string
		opts Options
	}{
		{"constant", Options{Model: Open, Rate: 2 * MaxRate, Duration: time.Second}},
		{"stage", Options{Model: Open, Stages: []Stage{{Duration: time.Second, Target: MaxRate + 1}}}},
		{"schedule", Options{Schedule: Poisson{Rate: Ramp{Start: 1e300, Stages: []Stage{{Duration: time.Second, Target: 1}}}}}},
	}
	for _, c := range cases {
		c.opts.Targets = []Target{target}
		if _, err := Run(context.Background(), c.opts); err == nil || !strings.Contains(err.Error(), "the most one generator schedules") {
			t.Errorf("%s: Run error %v, want the rate limit", c.name, err)
		}
	}
	// A segment's share is what its generator schedules.
	share, err := Segment{Index: 2, Count: 3}.Of(Constant{Rate: 3 * MaxRate, For: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Targets: []Target{target}, Schedule: share}
	if err := o.Validate(); err != nil {
		t.Errorf("a third of 3M/s: %v", err)
	}
}

func TestParseStagesReadsEachUnit(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in      []string
		model   Model
		wantErr string
	}{
		{[]string{"30s:500/s", "10s:0/s"}, Open, ""},
		{[]string{"30s:50", "1m:0"}, Closed, ""},
		{[]string{"30s:500/s", "10s:5"}, "", `stage "10s:5" targets users but stage "30s:500/s" targets a rate`},
		{[]string{"30s:5", "10s:500/s"}, "", `stage "10s:500/s" targets a rate but stage "30s:5" targets users`},
		{[]string{"30s:5.5"}, "", "whole number"},
	}
	for _, c := range cases {
		m, stages, err := ParseStages(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseStages(%q) error %v, want %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil || m != c.model || len(stages) != len(c.in) {
			t.Errorf("ParseStages(%q) = %s, %v, %v", c.in, m, stages, err)
		}
	}
}
