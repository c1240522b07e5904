// Package report renders what faultline measured: the end-of-run summary,
// HdrHistogram percentile distributions (.hgrm), and the versioned results
// file that lets runs be merged and re-rendered later.
package report
