package distrib

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
)

// WriteReport writes what became of each worker, under the run's summary:
// the clocks, each segment's state and, for a degraded run, what was lost.
func WriteReport(w io.Writer, o *Outcome, start time.Time) error {
	var worstErr, spread float64
	for _, p := range o.Workers {
		worstErr = max(worstErr, p.ClockErrorMs)
		spread = max(spread, p.StartSkewMs)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nGenerators:   %d workers, clock offsets known to ±%.2fms, schedules began within %.2fms of the common start\n",
		len(o.Workers), worstErr, spread)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, p := range o.Workers {
		fmt.Fprintf(tw, "  %s\tsegment %s\t%s\t%s\n", p.Name, p.Segment, strings.ToUpper(p.State), workerLine(p, start, o.Result.Model))
	}
	tw.Flush()
	if o.Degraded() {
		var lost []string
		var notSent int64
		for _, p := range o.Workers {
			if p.State != StateOK {
				lost = append(lost, p.Segment)
				notSent += p.NotSent
			}
		}
		fmt.Fprintf(&b, "DEGRADED:     segment %s lost; %d requests of the schedule count as not sent: the figures above cover only what the workers reported\n",
			strings.Join(lost, ", "), notSent)
	}
	for _, p := range o.Lagging() {
		fmt.Fprintf(&b, "LAGGING:      %s (segment %s) could not keep its schedule: send lag p99 up to %.1fms from %+.1fs\n",
			p.Name, p.Segment, p.WorstSendLagMs, p.LaggingSince.Sub(start).Seconds())
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func workerLine(p WorkerReport, start time.Time, model loadgen.Model) string {
	if p.State == StateOK {
		return fmt.Sprintf("sent %d, clock offset %+.2fms ±%.2fms, start %+.2fms", p.Sent, p.ClockOffsetMs, p.ClockErrorMs, p.StartSkewMs)
	}
	lost := fmt.Sprintf("%d of its %d planned requests unreported, counted as not sent", p.NotSent, p.Planned)
	if model == loadgen.Closed {
		lost = fmt.Sprintf("its %d virtual users stopped", p.Planned)
	}
	return fmt.Sprintf("since %+.1fs (%s): %s; %s", p.Since.Sub(start).Seconds(), p.Since.UTC().Format("15:04:05.000"), p.Reason, lost)
}
