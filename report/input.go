package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/faultline-dev/faultline/report/journal"
	"github.com/faultline-dev/faultline/report/results"
)

// errNotReportInput is returned for a file that is neither a results file
// nor an experiment journal.
var errNotReportInput = errors.New("not a faultline results file or experiment journal")

// ReadRun reads a file that `faultline report` renders, recognising it by
// its "schema" field; name is used in errors. The file is held in memory
// (OpenRun streams it from disk instead).
func ReadRun(r io.Reader, name string) (*Run, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return openRun(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, name)
}

// OpenRun reads the file at path as ReadRun does, in memory that does not
// grow with the run: it streams the file once to check it and to merge
// each phase's intervals, and again for each format that writes every
// interval (csv, json, hlog).
func OpenRun(path string) (*Run, error) {
	return openRun(func() (io.ReadCloser, error) { return os.Open(path) }, path)
}

// openRun reads a results file or journal that open opens (as often as
// its intervals are read); name is used in errors.
func openRun(open func() (io.ReadCloser, error), name string) (*Run, error) {
	f, err := open()
	if err != nil {
		return nil, err
	}
	schema, err := sniffSchema(bufio.NewReader(f), name)
	f.Close()
	if err != nil {
		return nil, err
	}
	// Each input kind is one case.
	switch schema {
	case results.Schema:
		return openResults(open, name)
	case journal.Schema:
		return openJournal(open, name)
	default:
		return nil, fmt.Errorf("%s: %w (schema %q)", name, errNotReportInput, schema)
	}
}

// sniffSchema finds the top-level "schema" member of a JSON object without
// decoding the rest, so that a truncated or damaged file of a known kind is
// still recognised and its own reader says what is wrong with it.
func sniffSchema(r io.Reader, name string) (string, error) {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("%s: the file is empty", name)
		}
		return "", fmt.Errorf("%s: %w: not JSON", name, errNotReportInput)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return "", fmt.Errorf("%s: %w: the JSON is not an object", name, errNotReportInput)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", truncatedOr(err, name)
		}
		key, _ := tok.(string)
		if key == "schema" {
			var schema string
			if err := dec.Decode(&schema); err != nil {
				return "", fmt.Errorf("%s: %w: \"schema\" is not a string", name, errNotReportInput)
			}
			return schema, nil
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", truncatedOr(err, name)
		}
	}
	return "", fmt.Errorf("%s: %w: no \"schema\" field", name, errNotReportInput)
}

func truncatedOr(err error, name string) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: truncated: the JSON ends before a \"schema\" field", name)
	}
	return fmt.Errorf("%s: %w: malformed JSON: %v", name, errNotReportInput, err)
}
