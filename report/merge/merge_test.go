package merge

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report"
	"github.com/faultline-dev/faultline/report/internal/fixture"
	"github.com/faultline-dev/faultline/report/results"
)

// splitRun records the same seeded samples three ways: every sample into
// all, and each sample into one of two generators chosen at random. The
// second generator started offset later, as a real one would.
func splitRun(t *testing.T, n int, offset time.Duration) (a, b, all []*loadgen.Stats) {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, 12))
	names := []string{"GET /a", "POST /b"}
	series := func(name string, o loadgen.Outcome) *loadgen.Series {
		return &loadgen.Series{Name: name, Outcome: o, Latency: loadgen.NewHistogram(), Service: loadgen.NewHistogram(),
			Status: map[int]int64{}, Errors: map[loadgen.ErrorClass]int64{}}
	}
	for i := range n {
		start := fixture.Start.Add(time.Duration(i) * time.Second)
		var parts [3]*loadgen.Stats
		for k := range parts {
			s := start
			if k == 1 {
				s = start.Add(offset)
			}
			parts[k] = loadgen.NewStats(s, s.Add(time.Second))
		}
		type key struct {
			name string
			o    loadgen.Outcome
		}
		recorded := [3]map[key]*loadgen.Series{{}, {}, {}}
		for _, name := range names {
			for range 500 {
				v := int64(3e6 * math.Exp(0.6*rng.NormFloat64()))
				o := loadgen.OK
				if rng.IntN(40) == 0 {
					o = loadgen.Error
				}
				for _, k := range []int{rng.IntN(2), 2} {
					s := recorded[k][key{name, o}]
					if s == nil {
						s = series(name, o)
						recorded[k][key{name, o}] = s
					}
					_ = s.Latency.RecordValue(v)
					_ = s.Service.RecordValue(v / 2)
					if o == loadgen.Error {
						s.Errors[loadgen.ErrTimeout]++
					} else {
						s.Status[200]++
					}
					s.BytesIn += 300
					s.BytesOut += 120
					parts[k].Scheduled++
					_ = parts[k].SendLag.RecordValue(v / 100)
				}
			}
		}
		for k, m := range recorded {
			one := loadgen.NewStats(parts[k].Start, parts[k].End)
			for _, s := range m {
				one.Series = append(one.Series, s)
			}
			sort.Slice(one.Series, func(i, j int) bool {
				x, y := one.Series[i], one.Series[j]
				return x.Name < y.Name || (x.Name == y.Name && x.Outcome < y.Outcome)
			})
			parts[k].Merge(one)
		}
		a, b, all = append(a, parts[0]), append(b, parts[1]), append(all, parts[2])
	}
	return a, b, all
}

// TestMergeEqualsOneRun merges two generators' files and checks the result
// holds exactly what one run recording every sample holds, interval by
// interval, and that the summary and thresholds are computed afresh.
func TestMergeEqualsOneRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b, all := splitRun(t, 6, 300*time.Millisecond)
	pathA := fixture.WriteResults(t, dir, "a.json", a, withThresholds([]report.ThresholdSummary{{Expression: "p99<1s", Held: true}}))
	pathB := fixture.WriteResults(t, dir, "b.json", b, withThresholds([]report.ThresholdSummary{{Expression: "error_rate<1%", Held: true}, {Expression: "p99<1s", Held: true}}))
	var inputs []*results.File
	for _, p := range []string{pathA, pathB} {
		r, err := results.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, r)
	}
	m, err := Results(inputs, []string{pathA, pathB}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "all.json")
	if err := m.Write(out); err != nil {
		t.Fatal(err)
	}
	back, err := results.Open(out)
	if err != nil {
		t.Fatalf("the merged file does not read back: %v", err)
	}
	// Files streams the same merge: the same file, byte for byte.
	streamed := filepath.Join(dir, "streamed.json")
	if _, err := Files([]string{pathA, pathB}, streamed, Options{}); err != nil {
		t.Fatal(err)
	}
	if a, b := readFile(t, out), readFile(t, streamed); a != b {
		t.Errorf("Files wrote another file than Results and Write (%d and %d bytes)", len(b), len(a))
	}
	if len(back.Intervals) != len(all) {
		t.Fatalf("%d merged intervals, want %d", len(back.Intervals), len(all))
	}
	for i, iv := range back.Intervals {
		want := all[i]
		if !iv.Start.Equal(want.Start) {
			t.Errorf("interval %d starts %v, want %v", i, iv.Start, want.Start)
		}
		for _, name := range []string{"", "GET /a", "POST /b"} {
			if !iv.Latency(name).Equals(want.Latency(name)) || !iv.Service(name).Equals(want.Service(name)) {
				t.Errorf("interval %d %q: merged histograms differ from the one run's", i, name)
			}
			if iv.Failed(name) != want.Failed(name) || iv.ErrorsByClass(name)[loadgen.ErrTimeout] != want.ErrorsByClass(name)[loadgen.ErrTimeout] {
				t.Errorf("interval %d %q: failures %d, want %d", i, name, iv.Failed(name), want.Failed(name))
			}
		}
		if !iv.SendLag.Equals(want.SendLag) || iv.Scheduled != want.Scheduled {
			t.Errorf("interval %d: send lag or scheduled differ", i)
		}
	}
	total, wantTotal := back.Total(), loadgen.NewStats(fixture.Start, fixture.Start)
	for _, iv := range all {
		wantTotal.Merge(iv)
	}
	if !total.Latency("").Equals(wantTotal.Latency("")) || total.Completed("") != 6000 {
		t.Errorf("merged total: %d requests, histograms equal %v", total.Completed(""), total.Latency("").Equals(wantTotal.Latency("")))
	}
	in, outB := total.Bytes("")
	if wi, wo := wantTotal.Bytes(""); in != wi || outB != wo {
		t.Errorf("bytes %d/%d, want %d/%d", in, outB, wi, wo)
	}

	var s report.Summary
	if err := json.Unmarshal(back.Summary, &s); err != nil {
		t.Fatal(err)
	}
	want := report.SummarizeHistogram(wantTotal.Latency(""))
	if s.Requests != 6000 || s.Latency != want || s.Failed != wantTotal.Failed("") || s.Generator.Cores != 4 {
		t.Errorf("summary: requests %d failed %d cores %d latency %+v, want %+v", s.Requests, s.Failed, s.Generator.Cores, s.Latency, want)
	}
	if back.TargetRate != 800 || back.Tool != "faultline report merge" || !strings.Contains(string(back.Options), "b.json") {
		t.Errorf("header: rate %v tool %q options %s", back.TargetRate, back.Tool, back.Options)
	}
	// Each threshold once, judged on the merged data: about 2.5% of
	// requests fail, so error_rate<1% now fails.
	if len(s.Thresholds) != 2 || !s.Thresholds[0].Held || s.Thresholds[1].Held || s.Thresholds[1].Expression != "error_rate<1%" {
		t.Errorf("thresholds %+v", s.Thresholds)
	}
}

func TestMergeRejectsMixedModels(t *testing.T) {
	t.Parallel()
	a := &results.File{Header: results.Header{Model: loadgen.Open}, Summary: json.RawMessage(`{}`)}
	b := &results.File{Header: results.Header{Model: loadgen.Closed}, Summary: json.RawMessage(`{}`)}
	_, err := Results([]*results.File{a, b}, []string{"a.json", "b.json"}, Options{})
	if err == nil || !strings.Contains(err.Error(), "b.json a closed-model") {
		t.Errorf("error %v", err)
	}
}

// TestMergeRefusesRunsThatDidNotOverlap checks that runs sharing no instant
// are not merged into one "distributed" run unless the user says so, and
// that runs which overlap, even briefly, are.
func TestMergeRefusesRunsThatDidNotOverlap(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	run := func(start, end time.Duration) *results.File {
		return &results.File{Header: results.Header{Model: loadgen.Open, StartedAt: t0.Add(start)}, EndedAt: t0.Add(end), Summary: json.RawMessage(`{}`)}
	}
	names := []string{"a.json", "b.json", "c.json"}
	for _, tc := range []struct {
		name    string
		inputs  []*results.File
		opts    Options
		refused string
	}{
		{"overlapping", []*results.File{run(0, 10*time.Second), run(2*time.Second, 12*time.Second), run(9*time.Second, 20*time.Second)}, Options{}, ""},
		{"one after the other", []*results.File{run(0, 10*time.Second), run(10*time.Second, 20*time.Second)}, Options{}, "b.json started at 2026-11-29T10:00:10Z, after a.json ended"},
		{"pairwise disjoint in a chain", []*results.File{run(0, 10*time.Second), run(5*time.Second, 15*time.Second), run(12*time.Second, 20*time.Second)}, Options{}, "c.json started"},
		{"allowed", []*results.File{run(0, 10*time.Second), run(time.Hour, time.Hour+time.Second)}, Options{AllowDisjoint: true}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Results(tc.inputs, names[:len(tc.inputs)], tc.opts)
			switch {
			case tc.refused == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused) || !strings.Contains(err.Error(), "--allow-disjoint")):
				t.Errorf("error %v, want one containing %q and naming --allow-disjoint", err, tc.refused)
			}
		})
	}
}

// withThresholds stores the summary of a run with the given threshold
// verdicts.
func withThresholds(thresholds []report.ThresholdSummary) func(*loadgen.Result) any {
	return func(res *loadgen.Result) any {
		s := report.Summarize(res, nil)
		s.Thresholds = thresholds
		return s
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFilesStopsOnABadInput: an input that fails halfway ends the merge
// with its error, nothing written, every reader stopped (goleak checks).
func TestFilesStopsOnABadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b, _ := splitRun(t, 6, 0)
	pathA := fixture.WriteResults(t, dir, "a.json", a, withThresholds(nil))
	pathB := fixture.WriteResults(t, dir, "b.json", b, withThresholds(nil))
	raw := readFile(t, pathB)
	i := strings.LastIndex(raw, `"latency":"HISTF`)
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(raw[:i]+`"latency":"HISTX`+raw[i+len(`"latency":"HISTF`):]), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.json")
	if _, err := Files([]string{pathA, bad}, out, Options{}); err == nil || !strings.Contains(err.Error(), "bad.json") {
		t.Errorf("error %v, want one naming bad.json", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the merged file was left behind: %v", err)
	}
}
