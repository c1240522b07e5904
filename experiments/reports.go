package experiments

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/faultline-dev/faultline/report"
	"github.com/faultline-dev/faultline/report/output"
)

// defaultFormats are what a run leaves besides its journal when the file
// names none: JUnit XML and a Markdown summary for CI, the HDR interval
// log, and the self-contained HTML report for a person to open.
var defaultFormats = []string{"junit", "markdown", "hlog", "html"}

// writeReports renders the finished journal in every format the experiment
// asks for, into the run's directory, through the same renderers as
// `faultline report`; the Markdown summary is also appended to
// $GITHUB_STEP_SUMMARY when it is set. A report that cannot be written is
// said on the log; it does not change the verdict.
func (r *runner) writeReports() {
	formats := r.plan.Exp.Report.Formats
	if len(formats) == 0 {
		formats = defaultFormats
	}
	run, err := report.OpenRun(r.res.Journal)
	if err != nil {
		fmt.Fprintf(r.opts.Log, "faultline: reports: %v\n", err)
		return
	}
	r.res.Report = run
	for _, name := range formats {
		f, ok := report.LookupFormat(name)
		if !ok {
			continue // validation rejected unknown formats already
		}
		path := filepath.Join(r.res.Dir, "report"+f.Extension)
		if err := output.WriteFile(path, func(w io.Writer) error { return f.Render(w, run, report.Options{}) }); err != nil {
			fmt.Fprintf(r.opts.Log, "faultline: write %s: %v\n", path, err)
			continue
		}
		r.res.Reports = append(r.res.Reports, path)
		if name == "markdown" {
			if summary := r.opts.Getenv("GITHUB_STEP_SUMMARY"); summary != "" {
				if err := appendFile(summary, func(w io.Writer) error { return f.Render(w, run, report.Options{}) }); err != nil {
					fmt.Fprintf(r.opts.Log, "faultline: append to $GITHUB_STEP_SUMMARY: %v\n", err)
				}
			}
		}
	}
}

func appendFile(path string, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
