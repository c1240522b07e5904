package experiments

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/loadgen"

	"github.com/faultline-dev/faultline/internal/metric"
)

// runClock is when the load started: every part of the runner dates its
// events from it.
type runClock struct{ start time.Time }

func (c *runClock) started() bool { return !c.start.IsZero() }

// offset is now, after the start of the load (0 before it).
func (c *runClock) offset() time.Duration {
	if !c.started() {
		return 0
	}
	return time.Since(c.start)
}

// display is the live view of a run on the log: one line per event,
// dated from the start of the load, and on a terminal a progress line
// redrawn at every interval under them.
type display struct {
	w         io.Writer
	progress  bool // draw the progress line (a terminal)
	clock     *runClock
	lineDrawn bool
}

// logf prints an event line, clearing the progress line first.
func (d *display) logf(format string, args ...any) {
	d.clear()
	offset := ""
	if d.clock.started() {
		offset = fmt.Sprintf("%7.1fs  ", d.clock.offset().Seconds())
	}
	fmt.Fprintf(d.w, "%s%s\n", offset, fmt.Sprintf(format, args...))
}

// interval redraws the progress line for one interval of phase.
func (d *display) interval(phase *Phase, iv *loadgen.Stats, total time.Duration, faults []string) {
	if !d.progress {
		return
	}
	lat := iv.Latency("")
	line := fmt.Sprintf("[%s] %s/%s  %.0f/s  p99 %s  errors %d  faults: %s",
		phase.Name, iv.End.Sub(d.clock.start).Round(time.Second), total.Round(time.Second),
		iv.Rate(""), metric.FormatDuration(loadgen.Percentile(lat, 99)), iv.Failed(""), orDefault(strings.Join(faults, ", "), "none"))
	fmt.Fprintf(d.w, "\r\033[K%s", line)
	d.lineDrawn = true
}

// clear removes the progress line, if one is drawn.
func (d *display) clear() {
	if d.lineDrawn {
		fmt.Fprint(d.w, "\r\033[K")
		d.lineDrawn = false
	}
}
