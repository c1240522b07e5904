package estimate

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/internal/suggest"
)

// Column names ParsePoints understands. Other measurement columns a sweep
// may carry are accepted and ignored.
var (
	concurrencyColumns = []string{"n", "concurrency", "load", "users", "vus", "threads"}
	throughputColumns  = []string{"x", "throughput", "rate", "rps", "achieved"}
	ignoredColumns     = []string{"offered", "mean", "latency", "p50", "p90", "p99", "p99.9", "p999", "errors", "dropped", "count", "duration"}
)

// maxReported caps how many bad cells one error lists.
const maxReported = 20

// ParsePoints reads (N, X) measurements from CSV. The first row is a header
// naming the columns: N as n or concurrency, X as x or throughput (see the
// docs for the synonyms). Blank lines and lines starting with # are
// skipped. Every bad cell is reported with its line and column name; fewer
// than MinFitPoints points is an error.
func ParsePoints(name string, r io.Reader) ([]Point, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true

	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: empty file: want a header such as concurrency,throughput", name)
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	headerLine, _ := cr.FieldPos(0)
	nCol, xCol := -1, -1
	var problems []string
	for i, h := range header {
		col := strings.ToLower(strings.TrimSpace(h))
		switch {
		case slices.Contains(concurrencyColumns, col):
			if nCol >= 0 {
				problems = append(problems, fmt.Sprintf("%s:%d: column %q: a second concurrency column", name, headerLine, h))
			}
			nCol = i
		case slices.Contains(throughputColumns, col):
			if xCol >= 0 {
				problems = append(problems, fmt.Sprintf("%s:%d: column %q: a second throughput column", name, headerLine, h))
			}
			xCol = i
		case slices.Contains(ignoredColumns, col):
		default:
			msg := fmt.Sprintf("%s:%d: unknown column %q", name, headerLine, h)
			all := append(append(append([]string{}, concurrencyColumns...), throughputColumns...), ignoredColumns...)
			if s := suggest.Closest(col, all); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			problems = append(problems, msg)
		}
	}
	if nCol < 0 || xCol < 0 {
		problems = append(problems, fmt.Sprintf("%s:%d: header: want a concurrency column (N or concurrency) and a throughput column (X or throughput)", name, headerLine))
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}

	var points []Point
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			problems = append(problems, fmt.Sprintf("%s:%d: %d fields, the header has %d", name, line, len(rec), len(header)))
			continue
		}
		n, errN := parseCell(rec[nCol])
		if errN == nil && !(n > 0) {
			errN = errors.New("want a concurrency above zero")
		}
		if errN != nil {
			problems = append(problems, fmt.Sprintf("%s:%d: %s: %v", name, line, strings.TrimSpace(header[nCol]), errN))
		}
		x, errX := parseCell(rec[xCol])
		if errX == nil && x < 0 {
			errX = errors.New("want a throughput of zero or more")
		}
		if errX != nil {
			problems = append(problems, fmt.Sprintf("%s:%d: %s: %v", name, line, strings.TrimSpace(header[xCol]), errX))
		}
		if errN == nil && errX == nil {
			points = append(points, Point{N: n, X: x})
		}
	}
	if len(problems) > 0 {
		if len(problems) > maxReported {
			problems = append(problems[:maxReported], fmt.Sprintf("... and %d more", len(problems)-maxReported))
		}
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	if len(points) < MinFitPoints {
		return nil, fmt.Errorf("%s: %d points, need at least %d to fit", name, len(points), MinFitPoints)
	}
	return points, nil
}

func parseCell(s string) (float64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("empty cell")
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(t, "_", ""), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a number", t)
	}
	return v, nil
}

func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d:%d: %w", name, pe.Line, pe.Column, pe.Err)
	}
	return fmt.Errorf("%s: %w", name, err)
}
