package report

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
)

func init() {
	RegisterFormat(Format{Name: "csv", Extension: ".csv", Render: writeCSV,
		Description: "per-interval statistics, one row per interval and request name (\"*\" for all), latency in --unit, statuses and error classes"})
}

// writeCSV writes one row per interval for every request together (request
// "*") and one per request name, with latency in the unit of opts (ms by
// default). The interval's scheduled, dropped and unfinished counts belong
// to the generator, not to a request name, so they fill the "*" row only.
func writeCSV(w io.Writer, r *Run, opts Options) error {
	scale, unit := opts.scale()
	cw := csv.NewWriter(w)
	head := []string{"start", "start_s", "end_s", "phase", "request", "count", "failed", "error_rate", "rate",
		"scheduled", "dropped", "unfinished"}
	for _, c := range []string{"p50", "p90", "p99", "p99.9", "p99.99", "max", "mean", "stdev"} {
		head = append(head, c+"_"+unit)
	}
	head = append(head, "status", "errors")
	if err := cw.Write(head); err != nil {
		return err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	lat := func(v float64) string { return strconv.FormatFloat(v*Milliseconds/scale, 'f', 3, 64) }
	names := r.Names()
	err := r.intervals(false, func(iv *Interval, i int) error {
		phase := ""
		if i >= 0 {
			phase = r.Phases[i].Name
		}
		row := func(name string) []string {
			label := name
			var sched, dropped, unfinished string
			if name == "" {
				label = "*"
				sched, dropped, unfinished = csvInt(iv.Scheduled), csvInt(iv.Dropped), csvInt(iv.Unfinished)
			}
			p := summarizeSparse(iv.Latency(name))
			return []string{
				iv.Start.UTC().Format("2006-01-02T15:04:05.000Z07:00"), f(roundMs(r.offset(iv.Start))), f(roundMs(r.offset(iv.End))),
				phase, label, csvInt(iv.Completed(name)), csvInt(iv.Failed(name)), f(iv.ErrorRate(name)), strconv.FormatFloat(iv.Rate(name), 'f', 3, 64),
				sched, dropped, unfinished,
				lat(p.P50), lat(p.P90), lat(p.P99), lat(p.P999), lat(p.P9999), lat(p.Max), lat(p.Mean), lat(p.StdDev),
				csvCounts(iv, name, statusColumns(iv), true), csvCounts(iv, name, statusColumns(iv), false),
			}
		}
		if err := cw.Write(row("")); err != nil {
			return err
		}
		for _, n := range names {
			if err := cw.Write(row(n)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

func csvInt(n int64) string { return strconv.FormatInt(n, 10) }

// csvCounts packs the status counts (codes) or the error class counts of
// one row into a cell, "200=380;503=20", leaving out zeros.
func csvCounts(iv statusSource, name string, cols []string, codes bool) string {
	var parts []string
	for i, n := range statusCounts(iv, name, cols) {
		_, err := strconv.Atoi(cols[i])
		if n > 0 && (err == nil) == codes {
			parts = append(parts, cols[i]+"="+strconv.FormatInt(n, 10))
		}
	}
	return strings.Join(parts, ";")
}
