// Package merge combines the results files of load generators that ran at
// the same time against the same system (a distributed run) into one: the
// intervals aligned by wall-clock time and their histograms merged
// exactly, the summary recomputed and every input's thresholds judged
// again on the merged data.
package merge

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report"
	"github.com/faultline-dev/faultline/report/results"
)

// Merged is the merge of several results files, ready to be written as one.
type Merged struct {
	Info      results.Header
	Intervals []*loadgen.Stats
	EndedAt   time.Time
	Summary   *report.Summary
}

// mergedInput is what a merged file records about each input in its
// options.
type mergedInput struct {
	File      string          `json:"file"`
	Tool      string          `json:"tool"`
	StartedAt time.Time       `json:"started_at"`
	Options   json.RawMessage `json:"options,omitempty"`
}

// Options change how Results treats its inputs.
type Options struct {
	// AllowDisjoint merges runs that share no instant. Generators of one
	// distributed run overlap in time; runs that do not were most likely
	// picked by mistake, and merging them would report a rate and a
	// latency no system ever saw, so by default they are refused.
	AllowDisjoint bool
}

// Results merges the results files of load generators that ran at the
// same time against the same system: the basis of a distributed run.
// Intervals are aligned by wall-clock time: each goes to the bucket of its
// start, rounded to the interval length from the earliest start, and the
// histograms, counts and bytes of a bucket are merged exactly. The summary
// is recomputed from the merged histograms, and the thresholds of every
// input are judged again on them. names are the inputs' file names, for
// errors and the merged file's options.
func Results(inputs []*results.File, names []string, opts Options) (*Merged, error) {
	if len(inputs) == 0 {
		return nil, errors.New("merge: no results files")
	}
	if err := checkMergeable(inputs, names, opts); err != nil {
		return nil, err
	}
	first := inputs[0]
	t0 := first.StartedAt
	for _, in := range inputs {
		if in.StartedAt.Before(t0) {
			t0 = in.StartedAt
		}
	}
	m := &Merged{Intervals: alignIntervals(inputs, t0, intervalLength(inputs))}
	acc, err := combineHeaders(inputs, names, t0)
	if err != nil {
		return nil, err
	}
	m.EndedAt = acc.endedAt
	if n := len(m.Intervals); n > 0 && m.Intervals[n-1].End.After(m.EndedAt) {
		m.EndedAt = m.Intervals[n-1].End
	}
	info, err := results.NewHeader("faultline report merge", first.Model, t0, acc.planned, acc.targetRate, map[string]any{"merged_from": acc.sources})
	if err != nil {
		return nil, err
	}
	m.Info = info

	ev, err := rejudge(acc.expressions)
	if err != nil {
		return nil, err
	}
	total := loadgen.NewStats(t0, t0)
	for _, iv := range m.Intervals {
		ev.Observe(iv)
		total.Merge(iv)
	}
	m.Summary = summarizeMerged(mergedRun{
		Model: first.Model, Start: t0, End: m.EndedAt, Planned: acc.planned, Total: total, Intervals: len(m.Intervals),
		TargetRate: acc.targetRate, Sent: acc.sent, Interrupted: acc.interrupted, Generator: acc.generator,
	}, ev.Results(total))
	return m, nil
}

// checkMergeable refuses inputs whose latencies measure different things
// (open and closed model) and, unless allowed, inputs that never ran at
// the same time.
func checkMergeable(inputs []*results.File, names []string, opts Options) error {
	first := inputs[0]
	for i, in := range inputs[1:] {
		if in.Model != first.Model {
			return fmt.Errorf("%s is a %s-model run and %s a %s-model one: their latencies measure different things and do not merge",
				names[0], first.Model, names[i+1], in.Model)
		}
	}
	if opts.AllowDisjoint {
		return nil
	}
	// Intervals on a line that overlap pairwise share a common instant, so
	// the latest start before the earliest end is the whole check.
	latest, earliest := 0, 0
	for i, in := range inputs {
		if in.StartedAt.After(inputs[latest].StartedAt) {
			latest = i
		}
		if resultsEnd(in).Before(resultsEnd(inputs[earliest])) {
			earliest = i
		}
	}
	if latest != earliest && !inputs[latest].StartedAt.Before(resultsEnd(inputs[earliest])) {
		return fmt.Errorf("%s started at %s, after %s ended at %s: the runs did not overlap in time, so they are not one distributed run (--allow-disjoint merges them anyway)",
			names[latest], inputs[latest].StartedAt.Format(time.RFC3339Nano), names[earliest], resultsEnd(inputs[earliest]).Format(time.RFC3339Nano))
	}
	return nil
}

// resultsEnd is when a run ended: its footer's time, or, for a file cut
// short before its footer, the end of its last interval.
func resultsEnd(r *results.File) time.Time {
	if !r.EndedAt.IsZero() {
		return r.EndedAt
	}
	end := r.StartedAt
	for _, iv := range r.Intervals {
		if iv.End.After(end) {
			end = iv.End
		}
	}
	return end
}

// intervalLength is the median interval length of the inputs, to the
// millisecond (1 s when there is none).
func intervalLength(inputs []*results.File) time.Duration {
	var lengths []time.Duration
	for _, in := range inputs {
		for _, iv := range in.Intervals {
			lengths = append(lengths, iv.Duration())
		}
	}
	if len(lengths) > 0 {
		slices.Sort(lengths)
		if m := lengths[len(lengths)/2].Round(time.Millisecond); m > 0 {
			return m
		}
	}
	return time.Second
}

// alignIntervals merges every input's intervals into buckets of length
// from t0, by the bucket each interval starts in.
func alignIntervals(inputs []*results.File, t0 time.Time, length time.Duration) []*loadgen.Stats {
	type bucket struct {
		stats  *loadgen.Stats
		longer time.Duration
	}
	buckets := map[int64]*bucket{}
	for _, in := range inputs {
		for _, iv := range in.Intervals {
			key := int64(math.Round(float64(iv.Start.Sub(t0)) / float64(length)))
			b := buckets[key]
			if b == nil {
				b = &bucket{stats: loadgen.NewStats(time.Time{}, time.Time{})}
				buckets[key] = b
			}
			b.stats.Merge(iv)
			b.longer = max(b.longer, iv.Duration())
		}
	}
	keys := slices.Sorted(maps.Keys(buckets))
	merged := make([]*loadgen.Stats, 0, len(keys))
	for i, k := range keys {
		b := buckets[k]
		b.stats.Start = t0.Add(time.Duration(k) * length)
		b.stats.End = b.stats.Start.Add(b.longer)
		// Timer jitter makes some intervals a little longer than the
		// length; the merged ones must not overlap.
		if i+1 < len(keys) {
			if next := t0.Add(time.Duration(keys[i+1]) * length); b.stats.End.After(next) {
				b.stats.End = next
			}
		}
		merged = append(merged, b.stats)
	}
	return merged
}

// mergedHeader is what the inputs' headers and summaries add up to.
type mergedHeader struct {
	planned     time.Duration
	targetRate  float64
	sent        int64
	interrupted bool
	generator   report.GeneratorSummary
	expressions []string
	sources     []mergedInput
	endedAt     time.Time
}

// combineHeaders adds up the inputs' planned lengths, rates, generators
// and thresholds (each expression once).
func combineHeaders(inputs []*results.File, names []string, t0 time.Time) (*mergedHeader, error) {
	acc := &mergedHeader{endedAt: t0}
	for i, in := range inputs {
		var s report.Summary
		if err := json.Unmarshal(in.Summary, &s); err != nil {
			return nil, fmt.Errorf("%s: summary: %w", names[i], err)
		}
		acc.planned = max(acc.planned, time.Duration(in.Planned*float64(time.Second)))
		acc.targetRate += in.TargetRate
		acc.sent += s.Sent
		acc.generator.CPUSeconds += s.Generator.CPUSeconds
		acc.generator.Cores += s.Generator.Cores
		acc.generator.Utilization = max(acc.generator.Utilization, s.Generator.Utilization)
		acc.generator.Saturated = acc.generator.Saturated || s.Generator.Saturated
		acc.interrupted = acc.interrupted || s.Interrupted
		if in.EndedAt.After(acc.endedAt) {
			acc.endedAt = in.EndedAt
		}
		for _, t := range s.Thresholds {
			if !slices.Contains(acc.expressions, t.Expression) {
				acc.expressions = append(acc.expressions, t.Expression)
			}
		}
		acc.sources = append(acc.sources, mergedInput{File: names[i], Tool: in.Tool, StartedAt: in.StartedAt, Options: in.Options})
	}
	return acc, nil
}

// rejudge builds an evaluator for the inputs' threshold expressions.
func rejudge(expressions []string) (*loadgen.Evaluator, error) {
	var thresholds []*loadgen.Threshold
	for _, src := range expressions {
		t, err := loadgen.ParseThreshold(src)
		if err != nil {
			return nil, fmt.Errorf("merge: threshold of an input: %w", err)
		}
		thresholds = append(thresholds, t)
	}
	return loadgen.NewEvaluator(thresholds), nil
}

// mergedRun is what a summary needs to know of a run assembled from
// results files rather than measured by this process.
type mergedRun struct {
	Model       loadgen.Model
	Start, End  time.Time
	Planned     time.Duration
	Total       *loadgen.Stats
	Intervals   int
	TargetRate  float64
	Sent        int64
	Interrupted bool
	// Generator sums the generators: CPU seconds and cores added, the
	// highest utilisation, saturated when any one was.
	Generator report.GeneratorSummary
}

// summarizeMerged computes the summary of a merged run from its merged
// histograms, exactly as Summarize does for a measured run.
func summarizeMerged(r mergedRun, thresholds []loadgen.ThresholdResult) *report.Summary {
	s := report.Summarize(&loadgen.Result{
		Model: r.Model, Start: r.Start, End: r.End, Planned: r.Planned, Total: r.Total, Intervals: r.Intervals,
		TargetRate: r.TargetRate, Sent: r.Sent, Interrupted: r.Interrupted,
	}, thresholds)
	s.Generator = r.Generator
	return s
}

// Write writes the merged run as a results file at path, atomically.
func (m *Merged) Write(path string) error {
	w, err := results.Create(path, m.Info)
	if err != nil {
		return err
	}
	for _, iv := range m.Intervals {
		w.WriteInterval(iv)
	}
	return w.Close(m.EndedAt, m.Summary)
}
