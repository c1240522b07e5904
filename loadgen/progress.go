package loadgen

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/faultline-dev/faultline/internal/metric"
)

// Progress draws a one-line live status (a bar with elapsed and total time,
// current and target rate, the last interval's p50 and p99, errors and
// dropped requests) and redraws it in place at each interval.
type Progress struct {
	w        io.Writer
	sched    Schedule
	start    time.Time
	failed   int64
	dropped  int64
	lastLine int
}

// NewProgress draws on w for a run of sched starting at start.
func NewProgress(w io.Writer, sched Schedule, start time.Time) *Progress {
	return &Progress{w: w, sched: sched, start: start}
}

// Update redraws the line with iv, the interval that just ended.
func (p *Progress) Update(iv *Stats) {
	p.failed += iv.Failed("")
	p.dropped += iv.Dropped
	elapsed := iv.End.Sub(p.start)
	total := p.sched.Duration()
	const width = 20
	done := 0
	if total > 0 {
		done = min(width, int(float64(width)*elapsed.Seconds()/total.Seconds()))
	}
	bar := strings.Repeat("=", done) + strings.Repeat(" ", width-done)
	target := ""
	if ModelOf(p.sched) == Open {
		target = fmt.Sprintf(" (target %.0f/s)", p.sched.TargetAt(elapsed))
	} else {
		target = fmt.Sprintf(" (%.0f users)", p.sched.TargetAt(elapsed))
	}
	lat := iv.Latency("")
	line := fmt.Sprintf("[%s] %s/%s  %.0f/s%s  p50 %s  p99 %s  errors %d  dropped %d",
		bar, elapsed.Round(time.Second), total.Round(time.Second), iv.Rate(""), target,
		metric.FormatDuration(Percentile(lat, 50)), metric.FormatDuration(Percentile(lat, 99)), p.failed, p.dropped)
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
