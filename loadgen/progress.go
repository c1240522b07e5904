package loadgen

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// TargetAt is what the load shape asks for after elapsed: the arrival rate
// per second in the open model, the number of virtual users in the closed
// model.
func (o *Options) TargetAt(elapsed time.Duration) float64 {
	start := o.Rate
	if o.Model == Closed {
		start = float64(o.Concurrency)
	}
	if len(o.Stages) == 0 {
		return start
	}
	return ramp{start: start, stages: o.Stages}.at(elapsed)
}

// MeanRate is the mean arrival rate the open model asks for over the whole
// load shape (0 in the closed model).
func (o *Options) MeanRate() float64 {
	if o.Model != Open {
		return 0
	}
	if len(o.Stages) == 0 {
		return o.Rate
	}
	r := ramp{start: o.Rate, stages: o.Stages}
	area, from := 0.0, o.Rate
	for _, s := range o.Stages {
		if s.Step {
			from = s.Target
		}
		area += (from + s.Target) / 2 * s.Duration.Seconds()
		from = s.Target
	}
	return area / r.total().Seconds()
}

// Planned is the length of the load shape: the stages summed, or Duration.
func (o *Options) Planned() time.Duration {
	if len(o.Stages) == 0 {
		return o.Duration
	}
	return ramp{stages: o.Stages}.total()
}

// Progress draws a one-line live status (a bar with elapsed and total time,
// current and target rate, the last interval's p50 and p99, errors and
// dropped requests) and redraws it in place at each interval.
type Progress struct {
	w        io.Writer
	opts     *Options
	start    time.Time
	failed   int64
	dropped  int64
	lastLine int
}

// NewProgress draws on w for a run with opts starting at start.
func NewProgress(w io.Writer, opts *Options, start time.Time) *Progress {
	return &Progress{w: w, opts: opts, start: start}
}

// Update redraws the line with iv, the interval that just ended.
func (p *Progress) Update(iv *Stats) {
	p.failed += iv.Failed("")
	p.dropped += iv.Dropped
	elapsed := iv.End.Sub(p.start)
	total := p.opts.Planned()
	const width = 20
	done := 0
	if total > 0 {
		done = min(width, int(float64(width)*elapsed.Seconds()/total.Seconds()))
	}
	bar := strings.Repeat("=", done) + strings.Repeat(" ", width-done)
	target := ""
	if p.opts.Model == Open {
		target = fmt.Sprintf(" (target %.0f/s)", p.opts.TargetAt(elapsed))
	} else {
		target = fmt.Sprintf(" (%.0f users)", p.opts.TargetAt(elapsed))
	}
	lat := iv.Latency("")
	line := fmt.Sprintf("[%s] %s/%s  %.0f/s%s  p50 %s  p99 %s  errors %d  dropped %d",
		bar, elapsed.Round(time.Second), total.Round(time.Second), iv.Rate(""), target,
		FormatDuration(Percentile(lat, 50)), FormatDuration(Percentile(lat, 99)), p.failed, p.dropped)
	// Widths are counted in runes, not bytes: "µs" is two bytes but one
	// column, and a byte count would leave the tail of a longer line behind.
	cols := utf8.RuneCountInString(line)
	pad := ""
	if n := p.lastLine - cols; n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	p.lastLine = cols
}

// Done clears the line so that the summary starts on a clean one.
func (p *Progress) Done() {
	if p.lastLine > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.lastLine))
	}
}
