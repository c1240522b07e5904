// Package report owns what happens to measurements once they are taken:
//
//   - files on disk: the journal of a run (journal.go) and the versioned
//     results file of a load (results.go), read back into one Run whatever
//     produced it (input.go, journal_run.go), and written atomically to
//     regular files (package report/output);
//   - rendering a Run in every registered format (format.go): text,
//     Markdown, HTML with plots, JSON, JUnit, CSV, HdrHistogram .hgrm and
//     .hlog, Prometheus text; the status breakdown and links they share;
//     the USL plots of estimate;
//   - merging the results of several generators into one run (merge.go);
//   - comparing two runs against the noise (compare.go, compare_write.go)
//     and the regression gates on a comparison (gate.go).
//
// Metrics are named and computed by internal/metric, and the bootstrap of
// a comparison is internal/statistics', the same the hypotheses of
// experiments use.
package report
