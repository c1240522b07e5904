// Package report owns what happens to measurements once they are taken:
//
//   - the Run every renderer draws from (run.go), read from a results file
//     or a journal (input.go, journal_run.go);
//   - rendering a Run in every registered format (format.go): text,
//     Markdown, HTML with plots, JSON, JUnit, CSV, HdrHistogram .hgrm and
//     .hlog, Prometheus text; the status breakdown and links they share;
//     the USL plots of estimate;
//   - the end-of-run summary of a load (summary.go);
//   - comparing two runs against the noise (compare.go, compare_write.go)
//     and the regression gates on a comparison (gate.go).
//
// Its packages own the rest: report/results the results file of
// `faultline load`, report/journal the journal of `faultline run`,
// report/output writing any file whole, and report/merge the merging of
// several generators' results files into one.
//
// Metrics are named and computed by internal/metric, and the bootstrap of
// a comparison is internal/statistics', the same the hypotheses of
// experiments use.
package report
