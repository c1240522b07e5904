package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
)

// Merged is the merge of several results files, ready to be written as one.
type Merged struct {
	Info      RunInfo
	Intervals []*loadgen.Stats
	EndedAt   time.Time
	Summary   *Summary
}

// mergedInput is what a merged file records about each input in its
// options.
type mergedInput struct {
	File      string          `json:"file"`
	Tool      string          `json:"tool"`
	StartedAt time.Time       `json:"started_at"`
	Options   json.RawMessage `json:"options,omitempty"`
}

// MergeResults merges the results files of load generators that ran at the
// same time against the same system: the basis of a distributed run.
// Intervals are aligned by wall-clock time: each goes to the bucket of its
// start, rounded to the interval length from the earliest start, and the
// histograms, counts and bytes of a bucket are merged exactly. The summary
// is recomputed from the merged histograms, and the thresholds of every
// input are judged again on them. names are the inputs' file names, for
// errors and the merged file's options.
func MergeResults(inputs []*Results, names []string) (*Merged, error) {
	if len(inputs) == 0 {
		return nil, errors.New("merge: no results files")
	}
	first := inputs[0]
	for i, in := range inputs[1:] {
		if in.Model != first.Model {
			return nil, fmt.Errorf("%s is a %s-model run and %s a %s-model one: their latencies measure different things and do not merge",
				names[0], first.Model, names[i+1], in.Model)
		}
	}
	t0 := first.StartedAt
	var lengths []time.Duration
	for _, in := range inputs {
		if in.StartedAt.Before(t0) {
			t0 = in.StartedAt
		}
		for _, iv := range in.Intervals {
			lengths = append(lengths, iv.Duration())
		}
	}
	length := time.Second
	if len(lengths) > 0 {
		slices.Sort(lengths)
		if m := lengths[len(lengths)/2].Round(time.Millisecond); m > 0 {
			length = m
		}
	}

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
	keys := make([]int64, 0, len(buckets))
	for k := range buckets {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	m := &Merged{}
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
		m.Intervals = append(m.Intervals, b.stats)
	}

	var (
		planned                time.Duration
		targetRate, cpu        float64
		sent                   int64
		cores                  int
		utilization            float64
		saturated, interrupted bool
		expressions            []string
		sources                []mergedInput
		summaries              = make([]Summary, len(inputs))
		endedAt                = t0
	)
	for i, in := range inputs {
		if err := json.Unmarshal(in.Summary, &summaries[i]); err != nil {
			return nil, fmt.Errorf("%s: summary: %w", names[i], err)
		}
		s := summaries[i]
		planned = max(planned, time.Duration(in.Planned*float64(time.Second)))
		targetRate += in.TargetRate
		sent += s.Sent
		cpu += s.Generator.CPUSeconds
		cores += s.Generator.Cores
		utilization = max(utilization, s.Generator.Utilization)
		saturated = saturated || s.Generator.Saturated
		interrupted = interrupted || s.Interrupted
		if in.EndedAt.After(endedAt) {
			endedAt = in.EndedAt
		}
		for _, t := range s.Thresholds {
			if !slices.Contains(expressions, t.Expression) {
				expressions = append(expressions, t.Expression)
			}
		}
		sources = append(sources, mergedInput{File: names[i], Tool: in.Tool, StartedAt: in.StartedAt, Options: in.Options})
	}
	if n := len(m.Intervals); n > 0 && m.Intervals[n-1].End.After(endedAt) {
		endedAt = m.Intervals[n-1].End
	}
	m.EndedAt = endedAt

	info, err := NewRunInfo("faultline report merge", first.Model, t0, planned, targetRate, map[string]any{"merged_from": sources})
	if err != nil {
		return nil, err
	}
	m.Info = info

	var thresholds []*loadgen.Threshold
	for _, src := range expressions {
		t, err := loadgen.ParseThreshold(src)
		if err != nil {
			return nil, fmt.Errorf("merge: threshold of an input: %w", err)
		}
		thresholds = append(thresholds, t)
	}
	ev := loadgen.NewEvaluator(thresholds)
	total := loadgen.NewStats(t0, t0)
	for _, iv := range m.Intervals {
		ev.Observe(iv)
		total.Merge(iv)
	}
	m.Summary = SummarizeMerged(MergedRun{
		Model: first.Model, Start: t0, End: endedAt, Planned: planned, Total: total, Intervals: len(m.Intervals),
		TargetRate: targetRate, Sent: sent, Interrupted: interrupted,
		Generator: GeneratorSummary{CPUSeconds: cpu, Cores: cores, Utilization: utilization, Saturated: saturated},
	}, ev.Results(total))
	return m, nil
}

// MergedRun is what a summary needs to know of a run assembled from
// results files rather than measured by this process.
type MergedRun struct {
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
	Generator GeneratorSummary
}

// SummarizeMerged computes the summary of a merged run from its merged
// histograms, exactly as Summarize does for a measured run.
func SummarizeMerged(r MergedRun, thresholds []loadgen.ThresholdResult) *Summary {
	s := Summarize(&loadgen.Result{
		Model: r.Model, Start: r.Start, End: r.End, Planned: r.Planned, Total: r.Total, Intervals: r.Intervals,
		TargetRate: r.TargetRate, Sent: r.Sent, Interrupted: r.Interrupted,
	}, thresholds)
	s.Generator = r.Generator
	return s
}

// WriteMerged writes a merged run as a results file at path, atomically.
func WriteMerged(path string, m *Merged) error {
	w, err := CreateResults(path, m.Info)
	if err != nil {
		return err
	}
	for _, iv := range m.Intervals {
		w.WriteInterval(iv)
	}
	return w.Close(m.EndedAt, m.Summary)
}
