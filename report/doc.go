// Package report turns a run's measurements into what people read:
//
//   - the Run every renderer draws from (run.go), read from a results file
//     or a journal (input.go, journal_run.go);
//   - rendering a Run in every registered format (format.go): text,
//     Markdown, HTML with plots, JSON, JUnit, CSV, HdrHistogram .hgrm and
//     .hlog, Prometheus text; the status breakdown and links they share;
//     the USL plots of estimate;
//   - the end-of-run summary of a load (summary.go).
//
// Its packages own the rest: report/results the results file of
// `faultline load`, report/journal the journal of `faultline run`,
// report/output writing any file whole, report/merge the merging of
// several generators' results files into one, and report/compare the
// comparison of two runs against the noise with its regression gates.
//
// Metrics are named and computed by internal/metric, the same vocabulary
// thresholds, hypotheses and comparisons use.
package report
