package report

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report/internal/hdr"
	"github.com/faultline-dev/faultline/report/results"

	"github.com/faultline-dev/faultline/internal/metric"
)

// Percentiles summarises one latency distribution, in milliseconds.
type Percentiles struct {
	Count  int64   `json:"count"`
	Min    float64 `json:"min_ms"`
	Mean   float64 `json:"mean_ms"`
	StdDev float64 `json:"stdev_ms"`
	P50    float64 `json:"p50_ms"`
	P90    float64 `json:"p90_ms"`
	P99    float64 `json:"p99_ms"`
	P999   float64 `json:"p99_9_ms"`
	P9999  float64 `json:"p99_99_ms"`
	Max    float64 `json:"max_ms"`
}

// SummarizeHistogram computes the figures of a nanosecond histogram.
func SummarizeHistogram(h *hdrhistogram.Histogram) Percentiles {
	if h.TotalCount() == 0 {
		return Percentiles{}
	}
	msOf := func(v int64) float64 { return float64(v) / 1e6 }
	return Percentiles{
		Count: h.TotalCount(), Min: msOf(h.Min()), Mean: h.Mean() / 1e6, StdDev: h.StdDev() / 1e6,
		P50: msOf(h.ValueAtPercentile(50)), P90: msOf(h.ValueAtPercentile(90)),
		P99: msOf(h.ValueAtPercentile(99)), P999: msOf(h.ValueAtPercentile(99.9)),
		P9999: msOf(h.ValueAtPercentile(99.99)), Max: msOf(h.Max()),
	}
}

// summarizeSparse is SummarizeHistogram of a sparse nanosecond histogram
// in the engine's geometry: the same figures.
func summarizeSparse(s hdr.Sparse) Percentiles {
	if s.Total == 0 {
		return Percentiles{}
	}
	st := s.Summarize(engine)
	msOf := func(v int64) float64 { return float64(v) / 1e6 }
	return Percentiles{
		Count: st.Count, Min: msOf(st.Min), Mean: st.Mean / 1e6, StdDev: st.StdDev / 1e6,
		P50: msOf(st.P50), P90: msOf(st.P90), P99: msOf(st.P99), P999: msOf(st.P999), P9999: msOf(st.P9999), Max: msOf(st.Max),
	}
}

// RequestSummary is the figures of one request name.
type RequestSummary struct {
	Name      string      `json:"name"`
	Requests  int64       `json:"requests"`
	Failed    int64       `json:"failed"`
	ErrorRate float64     `json:"error_rate"`
	Rate      float64     `json:"rate"`
	Latency   Percentiles `json:"latency"`
	// Status and Errors are the request's responses by status code and
	// its transport failures by class.
	Status map[string]int64 `json:"status,omitempty"`
	Errors map[string]int64 `json:"errors,omitempty"`
}

// ThresholdSummary is one threshold's verdict.
type ThresholdSummary struct {
	Expression string `json:"expression"`
	Held       bool   `json:"held"`
	Value      string `json:"value,omitempty"`
	NoData     bool   `json:"no_data,omitempty"`
	Line       string `json:"line"`
}

// Summary is the end-of-run summary of a load run, printed by WriteSummary
// and stored in the results file.
type Summary struct {
	Model loadgen.Model `json:"model"`
	// LatencyFrom says what latency is measured from: "intended start"
	// (open model) or "send" (closed model: service time).
	LatencyFrom string           `json:"latency_measured_from"`
	Planned     float64          `json:"planned_seconds"`
	Elapsed     float64          `json:"elapsed_seconds"`
	TargetRate  float64          `json:"target_rate,omitempty"`
	SendRate    float64          `json:"send_rate"`
	Throughput  float64          `json:"throughput"`
	Scheduled   int64            `json:"scheduled"`
	Sent        int64            `json:"sent"`
	Requests    int64            `json:"requests"`
	Failed      int64            `json:"failed"`
	ErrorRate   float64          `json:"error_rate"`
	Dropped     int64            `json:"dropped"`
	Unfinished  int64            `json:"unfinished"`
	Latency     Percentiles      `json:"latency"`
	Service     Percentiles      `json:"service"`
	SendLag     Percentiles      `json:"send_lag"`
	Status      map[string]int64 `json:"status"`
	Errors      map[string]int64 `json:"errors"`
	BytesIn     int64            `json:"bytes_in"`
	BytesOut    int64            `json:"bytes_out"`
	PerRequest  []RequestSummary `json:"per_request"`
	// Failures are a few failing responses of each request name, with the
	// start of their bodies.
	Failures    []results.Failure  `json:"failures,omitempty"`
	Thresholds  []ThresholdSummary `json:"thresholds,omitempty"`
	Generator   GeneratorSummary   `json:"generator"`
	Interrupted bool               `json:"interrupted"`
}

// GeneratorSummary reports the generator's own health.
type GeneratorSummary struct {
	CPUSeconds  float64 `json:"cpu_seconds"`
	Cores       int     `json:"cores"`
	Utilization float64 `json:"utilization"`
	Saturated   bool    `json:"saturated"`
}

// Summarize computes the summary of a finished run.
func Summarize(res *loadgen.Result, thresholds []loadgen.ThresholdResult) *Summary {
	t := res.Total
	s := &Summary{
		Model: res.Model, LatencyFrom: "intended start",
		Planned: res.Planned.Seconds(), Elapsed: res.End.Sub(res.Start).Seconds(),
		TargetRate: res.TargetRate, SendRate: res.SendRate(),
		Scheduled: t.Scheduled, Sent: res.Sent, Requests: t.Completed(""), Failed: t.Failed(""),
		ErrorRate: t.ErrorRate(""), Dropped: t.Dropped, Unfinished: t.Unfinished,
		Latency: SummarizeHistogram(t.Latency("")), Service: SummarizeHistogram(t.Service("")),
		SendLag: SummarizeHistogram(t.SendLag), Status: map[string]int64{}, Errors: map[string]int64{},
		Interrupted: res.Interrupted,
		Generator: GeneratorSummary{
			CPUSeconds: res.Generator.CPU.Seconds(), Cores: res.Generator.Cores,
			Utilization: res.Generator.Utilization, Saturated: res.Generator.Saturated(),
		},
	}
	if res.Model == loadgen.Closed {
		s.LatencyFrom = "send"
	}
	if s.Elapsed > 0 {
		s.Throughput = float64(s.Requests-s.Failed) / s.Elapsed
	}
	s.Status, s.Errors = countsByKey(t, "")
	s.BytesIn, s.BytesOut = t.Bytes("")
	s.Failures = results.Failures(phaseFailures(t))
	for _, name := range t.Names() {
		rs := RequestSummary{Name: name, Requests: t.Completed(name), Failed: t.Failed(name),
			ErrorRate: t.ErrorRate(name), Latency: SummarizeHistogram(t.Latency(name))}
		rs.Status, rs.Errors = countsByKey(t, name)
		if s.Elapsed > 0 {
			rs.Rate = float64(rs.Requests) / s.Elapsed
		}
		s.PerRequest = append(s.PerRequest, rs)
	}
	for _, r := range thresholds {
		ts := ThresholdSummary{Expression: r.Threshold.Source, Held: r.Held, NoData: r.NoData, Line: r.String()}
		if !r.NoData {
			ts.Value = r.Threshold.Format(r.Value)
		}
		s.Thresholds = append(s.Thresholds, ts)
	}
	return s
}

// countsByKey is the responses of name (all when empty) by status code and
// its transport failures by class, keyed as stored.
func countsByKey(t *loadgen.Stats, name string) (status, errs map[string]int64) {
	status, errs = map[string]int64{}, map[string]int64{}
	for code, n := range t.StatusCounts(name) {
		status[strconv.Itoa(code)] = n
	}
	for class, n := range t.ErrorsByClass(name) {
		if n > 0 {
			errs[string(class)] = n
		}
	}
	return status, errs
}

// failedLine accounts for every failed request: the responses with an
// error status (4xx, 5xx) plus the requests that got no response.
func failedLine(failed int64, status, errs map[string]int64) string {
	if failed == 0 {
		return "none"
	}
	bad := map[string]int64{}
	var withStatus, transport int64
	for code, n := range status {
		if c, err := strconv.Atoi(code); err == nil && c >= 400 {
			bad[code] = n
			withStatus += n
		}
	}
	for _, n := range errs {
		transport += n
	}
	line := fmt.Sprintf("%d = %d with an error status", failed, withStatus)
	if withStatus > 0 {
		line += " (" + countsLine(bad, "") + ")"
	}
	line += fmt.Sprintf(" + %d with no response", transport)
	if transport > 0 {
		line += " (" + countsLine(errs, "") + ")"
	}
	return line
}

// failedBy lists a request's error statuses and transport error classes,
// "-" for none.
func failedBy(status, errs map[string]int64) string {
	bad := map[string]int64{}
	for code, n := range status {
		if c, err := strconv.Atoi(code); err == nil && c >= 400 {
			bad[code] = n
		}
	}
	for class, n := range errs {
		bad[class] = n
	}
	return countsLine(bad, "-")
}

// WriteSummary prints the summary as aligned text.
func WriteSummary(w io.Writer, s *Summary) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }
	if s.Interrupted {
		p("interrupted\tthe run was stopped early; figures cover what ran\n")
	}
	elapsed := time.Duration(s.Elapsed * float64(time.Second)).Round(time.Millisecond)
	if s.Model == loadgen.Open {
		p("model\topen (arrival rate); latency measured from each request's intended start\n")
		p("rate\ttarget %s, sent %s, throughput %s (ok responses), over %s\n", perSecond(s.TargetRate), perSecond(s.SendRate), perSecond(s.Throughput), elapsed)
	} else {
		p("model\tclosed (virtual users); latency is service time, measured from the send\n")
		p("rate\tthroughput %s (ok responses), over %s\n", perSecond(s.Throughput), elapsed)
	}
	p("requests\t%d completed, %d failed (%s), %d dropped, %d unfinished, of %d scheduled\n",
		s.Requests, s.Failed, percent(s.ErrorRate), s.Dropped, s.Unfinished, s.Scheduled)
	latencyLabel := "latency"
	if s.Model == loadgen.Closed {
		latencyLabel = "service time"
	}
	p("%s\t%s\n", latencyLabel, percentileLine(s.Latency))
	if s.Model == loadgen.Open {
		p("service time\t%s\n", percentileLine(s.Service))
		p("send lag\t%s\n", percentileLine(s.SendLag))
	}
	p("status\t%s\n", countsLine(s.Status, "none"))
	p("failed\t%s\n", failedLine(s.Failed, s.Status, s.Errors))
	p("bytes\tin %s, out %s\n", bytesHuman(s.BytesIn), bytesHuman(s.BytesOut))
	sat := ""
	if s.Generator.Saturated {
		sat = "  WARNING: the generator was CPU-saturated; its own queueing is in these figures"
	}
	p("generator\tCPU %.2fs, %.0f%% of %d cores%s\n", s.Generator.CPUSeconds, 100*s.Generator.Utilization, s.Generator.Cores, sat)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(s.PerRequest) > 1 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "request\trequests\terrors\trate\tp50\tp90\tp99\tp99.9\tmax\tfailed by\t\n")
		for _, r := range s.PerRequest {
			l := r.Latency
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Name, r.Requests, percent(r.ErrorRate), perSecond(r.Rate),
				msHuman(l.P50), msHuman(l.P90), msHuman(l.P99), msHuman(l.P999), msHuman(l.Max), failedBy(r.Status, r.Errors))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(s.Failures) > 0 {
		fmt.Fprintf(w, "\n%s\n", failureLegend("request name"))
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, f := range s.Failures {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Name, failureKind(f.Sample()), bodyText(f.Sample()))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(s.Thresholds) > 0 {
		fmt.Fprintln(w, "\nthresholds")
		for _, t := range s.Thresholds {
			fmt.Fprintf(w, "  %s\n", t.Line)
		}
	}
	return nil
}

func percentileLine(p Percentiles) string {
	if p.Count == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  p99.9 %s  p99.99 %s  max %s  mean %s  stdev %s",
		msHuman(p.P50), msHuman(p.P90), msHuman(p.P99), msHuman(p.P999), msHuman(p.P9999), msHuman(p.Max), msHuman(p.Mean), msHuman(p.StdDev))
}

// msHuman, perSecond and percent print milliseconds, rates and fractions
// as the metric vocabulary prints durations, rates and ratios.
func msHuman(v float64) string { return metric.Duration.Format(v * 1e6) }

func perSecond(v float64) string { return metric.Rate.Format(v) }

func percent(v float64) string { return metric.FormatPercent(v) }

func countsLine(m map[string]int64, empty string) string {
	if len(m) == 0 {
		return empty
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func bytesHuman(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, exp := float64(n), 0
	for v >= unit && exp < 4 {
		v /= unit
		exp++
	}
	return fmt.Sprintf("%.1f %sB", v, []string{"", "k", "M", "G", "T"}[exp])
}
