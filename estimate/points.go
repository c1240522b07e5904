package estimate

import (
	"bytes"
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

// ParsePoints reads (N, X) measurements from CSV or tab-separated values
// (what benchmark scripts export; the separator is read from the first
// data line). The first row is a header naming the columns: N as n or
// concurrency, X as x or throughput (see the docs for the synonyms); a
// file whose first row is two numbers has no header, and its columns are
// N then X. Blank lines and lines starting with # are skipped. Every bad
// cell is reported with its line and column name; fewer than MinFitPoints
// points is an error.
func ParsePoints(name string, r io.Reader) ([]Point, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma = separator(data)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true

	first, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: empty file: want a header such as concurrency,throughput", name)
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	firstLine, _ := cr.FieldPos(0)
	cols, pending, err := readHeader(name, firstLine, first)
	if err != nil {
		return nil, err
	}
	var points []Point
	var problems []string
	add := func(line int, rec []string) {
		if p, errs := cols.point(name, line, rec); errs != nil {
			problems = append(problems, errs...)
		} else {
			points = append(points, p)
		}
	}
	if pending != nil {
		add(firstLine, pending)
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		add(line, rec)
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

// separator is a tab when the first line that is neither blank nor a
// comment has a tab and no comma, else a comma.
func separator(data []byte) rune {
	for _, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		if bytes.ContainsRune(line, '\t') && !bytes.ContainsRune(line, ',') {
			return '\t'
		}
		return ','
	}
	return ','
}

// columns says where N and X are, and what the columns are called.
type columns struct {
	names      []string
	nCol, xCol int
}

// readHeader reads the first row: a header, or, when every cell is a
// number, the first data row of a headerless two-column file, returned as
// pending.
func readHeader(name string, line int, first []string) (cols columns, pending []string, err error) {
	numeric := true
	for _, cell := range first {
		if _, err := parseCell(cell); err != nil {
			numeric = false
		}
	}
	if numeric {
		if len(first) != 2 {
			return cols, nil, fmt.Errorf("%s:%d: %d numbers and no header: without a header, want two columns, concurrency then throughput", name, line, len(first))
		}
		return columns{names: []string{"concurrency", "throughput"}, nCol: 0, xCol: 1}, first, nil
	}
	cols = columns{names: first, nCol: -1, xCol: -1}
	var problems []string
	for i, h := range first {
		col := strings.ToLower(strings.TrimSpace(h))
		switch {
		case slices.Contains(concurrencyColumns, col):
			if cols.nCol >= 0 {
				problems = append(problems, fmt.Sprintf("%s:%d: column %q: a second concurrency column", name, line, h))
			}
			cols.nCol = i
		case slices.Contains(throughputColumns, col):
			if cols.xCol >= 0 {
				problems = append(problems, fmt.Sprintf("%s:%d: column %q: a second throughput column", name, line, h))
			}
			cols.xCol = i
		case slices.Contains(ignoredColumns, col):
		default:
			msg := fmt.Sprintf("%s:%d: unknown column %q", name, line, h)
			all := append(append(append([]string{}, concurrencyColumns...), throughputColumns...), ignoredColumns...)
			if s := suggest.Closest(col, all); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			problems = append(problems, msg)
		}
	}
	if cols.nCol < 0 || cols.xCol < 0 {
		problems = append(problems, fmt.Sprintf("%s:%d: header: want a concurrency column (N or concurrency) and a throughput column (X or throughput)", name, line))
	}
	if len(problems) > 0 {
		return cols, nil, errors.New(strings.Join(problems, "\n"))
	}
	return cols, nil, nil
}

// point reads one data row, or says what is wrong with each cell.
func (c columns) point(name string, line int, rec []string) (Point, []string) {
	if len(rec) != len(c.names) {
		return Point{}, []string{fmt.Sprintf("%s:%d: %d fields, the header has %d", name, line, len(rec), len(c.names))}
	}
	var problems []string
	n, errN := parseCell(rec[c.nCol])
	if errN == nil && !(n > 0) {
		errN = errors.New("want a concurrency above zero")
	}
	if errN != nil {
		problems = append(problems, fmt.Sprintf("%s:%d: %s: %v", name, line, strings.TrimSpace(c.names[c.nCol]), errN))
	}
	x, errX := parseCell(rec[c.xCol])
	if errX == nil && x < 0 {
		errX = errors.New("want a throughput of zero or more")
	}
	if errX != nil {
		problems = append(problems, fmt.Sprintf("%s:%d: %s: %v", name, line, strings.TrimSpace(c.names[c.xCol]), errX))
	}
	if problems != nil {
		return Point{}, problems
	}
	return Point{N: n, X: x}, nil
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
