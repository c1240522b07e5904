package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/faultline-dev/faultline/report/internal/hdr"
)

func init() {
	RegisterFormat(Format{Name: "hlog", Extension: ".hlog", Render: writeHlog,
		Description: "HdrHistogram interval log (format 1.3): every interval, untagged for all requests and tagged PHASE/NAME per request name"})
}

// hlogLegend is the column legend HdrHistogram's writers put before the
// interval lines.
const hlogLegend = `"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"`

// writeHlog writes the run's latency as an HdrHistogram interval log,
// format 1.3, as HdrHistogram Java's HistogramLogWriter does: a comment,
// the format version, StartTime and BaseTime in seconds since the epoch with
// milliseconds (the run's start), the legend, then for every interval one
// untagged line holding every request and one line tagged "PHASE/NAME" per
// request name. Timestamps are seconds from BaseTime, the interval max is in
// milliseconds and the histograms hold nanoseconds (V2 compressed, base64).
func writeHlog(w io.Writer, r *Run, _ Options) error {
	bw := bufio.NewWriter(w)
	secs := float64(r.Start.UnixMilli()) / 1000
	fmt.Fprintf(bw, "#[Logged with faultline: %s]\n", hlogComment(r.Title))
	fmt.Fprintf(bw, "#[Histogram log format version %s]\n", hdrhistogram.HISTOGRAM_LOG_FORMAT_VERSION)
	fmt.Fprintf(bw, "#[StartTime: %.3f (seconds since epoch), %s]\n", secs, r.Start.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	fmt.Fprintf(bw, "#[BaseTime: %.3f (seconds since epoch)]\n", secs)
	fmt.Fprintln(bw, hlogLegend)
	names := r.Names()
	base := r.Start.Truncate(time.Millisecond)
	codec := newCodec()
	err := r.intervals(false, func(iv *Interval, i int) error {
		// The log's timestamps cannot be negative: its readers take digits
		// and dots only.
		start := max(0, iv.Start.Sub(base).Seconds())
		length := iv.End.Sub(iv.Start).Seconds()
		phase := ""
		if i >= 0 {
			phase = r.Phases[i].Name
		}
		if err := hlogLine(bw, codec, "", start, length, iv.Latency("")); err != nil {
			return err
		}
		for _, name := range names {
			if err := hlogLine(bw, codec, hlogTag(phase, name), start, length, iv.Latency(name)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// hlogLine writes one histogram, encoded as HdrHistogram encodes it.
func hlogLine(w io.Writer, codec *hdr.Codec, tag string, start, length float64, h hdr.Sparse) error {
	payload, err := codec.Encode(&h)
	if err != nil {
		return fmt.Errorf("encode histogram: %w", err)
	}
	if tag != "" {
		fmt.Fprintf(w, "Tag=%s,", tag)
	}
	_, err = fmt.Fprintf(w, "%.3f,%.3f,%.3f,%s\n", start, length, float64(h.MaxValue(engine))/Milliseconds, payload)
	return err
}

// hlogTag is the tag of a request name in a phase in an interval log. Tags
// may not hold commas, spaces or line breaks, so those become underscores:
// "load/GET_/checkout".
func hlogTag(phase, name string) string {
	tag := name
	if phase != "" {
		tag = phase + "/" + name
	}
	return strings.Map(func(c rune) rune {
		switch c {
		case ',', ' ', '\t', '\r', '\n':
			return '_'
		}
		return c
	}, tag)
}

// hlogComment keeps a comment on one line.
func hlogComment(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ", "]", ")").Replace(s)
}
