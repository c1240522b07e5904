package experiments

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report/journal"
	"github.com/faultline-dev/faultline/report/results"
)

// runJournal is the record of a run: every record goes to the journal
// file, and the checks and fault events also to the Result that Run
// returns, so the summary and the journal cannot disagree.
type runJournal struct {
	w     *journal.Writer
	log   io.Writer // where a failed write is said
	res   *Result
	clock *runClock
}

// openJournal creates the run's directory and its journal.
func openJournal(plan *Plan, dir string, res *Result, log io.Writer, clock *runClock) (*runJournal, error) {
	if dir == "" {
		dir = plan.Exp.Report.Dir
	}
	if dir == "" {
		dir = filepath.Join("faultline-out", safeName(plan.Exp.Name)+"-"+time.Now().UTC().Format("20060102-150405"))
	} else if !filepath.IsAbs(dir) && plan.Exp.Report.Dir == dir {
		dir = filepath.Join(plan.dir, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("report directory: %w", err)
	}
	w, err := journal.Create(filepath.Join(dir, "journal.jsonl"))
	if err != nil {
		return nil, err
	}
	res.Dir, res.Journal = dir, w.Path()
	return &runJournal{w: w, log: log, res: res, clock: clock}, nil
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == '\\' || r == ':' {
			return '-'
		}
		return r
	}, s)
}

func (j *runJournal) write(rec journal.Record) {
	if err := j.w.Write(rec); err != nil {
		fmt.Fprintf(j.log, "faultline: journal: %v\n", err)
	}
}

// start records the plan, with the load's start (or now, when the load
// never started).
func (j *runJournal) start(plan *Plan, tool string, loadStart time.Time) {
	jp := &journal.Plan{
		Name: plan.Exp.Name, Description: plan.Exp.Description, Tags: plan.Exp.Tags,
		File: plan.File, Tool: tool, Model: plan.Model, Seed: plan.Exp.Seed,
		TimeScale: plan.TimeScale, LoadStart: loadStart.UTC(),
		Histograms: results.EngineHistograms(),
	}
	for _, p := range plan.Phases {
		jp.Phases = append(jp.Phases, journal.Phase{Name: p.Name, StartMs: ms(p.Start), EndMs: ms(p.End), Rate: max(p.Rate, 0), Users: max(p.Concurrency, 0)})
	}
	for _, f := range plan.Faults {
		jp.Faults = append(jp.Faults, journal.FaultPlan{Label: f.Label(), Kind: f.Kind, Phase: f.Phase,
			Describe: describeFault(f), StartMs: ms(f.Start), EndMs: ms(f.End)})
	}
	j.write(journal.Record{Type: "start", Plan: jp})
}

func describeFault(f *PlannedFault) string {
	if f.Fault == nil {
		return f.Kind
	}
	return f.Fault.Describe()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// interval records one interval of the load under its phase.
func (j *runJournal) interval(phase string, iv *loadgen.Stats) {
	if err := j.w.WriteInterval(phase, iv); err != nil {
		fmt.Fprintf(j.log, "faultline: journal: %v\n", err)
	}
}

func (j *runJournal) check(c journal.Check) {
	j.res.Checks = append(j.res.Checks, c)
	j.write(journal.Record{Type: "check", Check: &c})
}

// fault records a fault event, dated now.
func (j *runJournal) fault(f journal.Fault) {
	f.AtMs = ms(j.clock.offset())
	j.res.Faults = append(j.res.Faults, f)
	j.write(journal.Record{Type: "fault", Fault: &f})
}

func (j *runJournal) note(msg string) {
	j.write(journal.Record{Type: "note", Message: msg})
}

// end records how the run ended and closes the journal.
func (j *runJournal) end(e ending) {
	j.write(journal.Record{Type: "end", End: &journal.End{ExitCode: int(e.code), Outcome: e.word(), Message: e.message}})
	if err := j.w.Close(); err != nil {
		fmt.Fprintf(j.log, "faultline: journal: %v\n", err)
	}
}
