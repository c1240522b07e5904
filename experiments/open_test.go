package experiments

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/report"
)

// TestEveryProblemAtOnce loads a file with one mistake of each kind and
// checks that every one is reported, in file order, at its line and column.
func TestEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	_, err := Open(t.Context(), "testdata/bad.yaml", Options{})
	if exitcode.Of(err) != exitcode.Usage {
		t.Fatalf("exit code %d, want 2 (err %v)", exitcode.Of(err), err)
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %T is not Problems", err)
	}
	want := []string{
		`testdata/bad.yaml:4:3: targets: unknown field "catalgo" (did you mean "catalog"?)`,
		`testdata/bad.yaml:13:12: load.requests[0].url: ${targets.gatway}: unknown target "gatway" (did you mean "gateway"?)`,
		`testdata/bad.yaml:16:19: steady_state.probes[0].expect: cannot compare p99 (a duration) with 250 (a number): give the number a unit, like 250ms`,
		`testdata/bad.yaml:19:15: phases[0].duration: want a duration like 30s, got "ten seconds"`,
		`testdata/bad.yaml:24:16: phases[1].faults[0].proxy: unknown proxy "db" (known: store)`,
		`testdata/bad.yaml:27:3: hypothesis.recovery: unknown phase "recovery" (known: baseline, fault)`,
		`testdata/bad.yaml:30:17: hypothesis.fault[0]: unknown phase "basline" in basline.p99 (phases: baseline, fault)`,
	}
	got := strings.Split(err.Error(), "\n")
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("missing problem:\n  %s\ngot:\n  %s", w, strings.Join(got, "\n  "))
		}
	}
	for i := 1; i < len(ps); i++ {
		if ps[i].Pos.Line < ps[i-1].Pos.Line {
			t.Errorf("problems not in file order: %v before %v", ps[i-1], ps[i])
		}
	}
}

func TestProblems(t *testing.T) {
	t.Parallel()
	base := `name: x
load:
  rate: 10/s
  requests:
    - url: http://127.0.0.1:1/
phases:
  - name: a
    duration: 5s
`
	cases := []struct {
		name, src, want string
	}{
		{"syntax", "name: [x\n", "YAML syntax"},
		{"empty", "", "the file is empty"},
		{"no name", strings.Replace(base, "name: x", "name: ''", 1), "name: an experiment needs a name"},
		{"no load", "name: x\nphases:\n  - name: a\n    duration: 1s\n", "load: the load needs a rate"},
		{"both models", strings.Replace(base, "rate: 10/s", "rate: 10/s\n  concurrency: 3", 1), "not both"},
		{"bad rate", strings.Replace(base, "10/s", "10", 1), `load.rate: rate "10" has no unit`},
		{"negative generators", strings.Replace(base, "rate: 10/s", "rate: 10/s\n  generators: -2", 1), "x.yaml:4:15: load.generators: -2: want a number of generators from 1 to 1000"},
		{"too many generators", strings.Replace(base, "rate: 10/s", "rate: 10/s\n  generators: 5000", 1), "x.yaml:4:15: load.generators: 5000"},
		{"generators not a number", strings.Replace(base, "rate: 10/s", "rate: 10/s\n  generators: three", 1), "x.yaml:4:15"},
		{"dup phase", base + "  - name: a\n    duration: 1s\n", `phase "a" is declared twice`},
		{"reserved phase", strings.Replace(base, "name: a", "name: service", 1), "reserved"},
		{"no phases", "name: x\nload:\n  rate: 1/s\n  requests:\n    - url: http://127.0.0.1:1/\n", "at least one phase"},
		{"unknown kind", base + "    faults:\n      - kind: latncy\n", "did you mean latency"},
		// Every fault problem points at the value at fault, not at "- kind:".
		{"unknown kind at its value", base + "    faults:\n      - kind: latncy\n", "x.yaml:10:15: phases[0].faults[0].kind: unknown fault kind"},
		{"bad field value at its value", "proxies:\n  - name: p\n    upstream: 127.0.0.1:1\n" + base + "    faults:\n      - kind: latency\n        proxy: p\n        latency: 10ms\n        jitter: 1s\n", "x.yaml:16:17: phases[0].faults[0].jitter: latency: jitter 1s is larger than latency 10ms"},
		{"bad field type at its value", base + "    faults:\n      - kind: limit_data\n        proxy: p\n        bytes: lots\n", "x.yaml:12:16: phases[0].faults[0].bytes:"},
		{"a field of another kind", base + "    faults:\n      - kind: latency\n        proxy: p\n        rate: 1KB/s\n", `x.yaml:12:9: phases[0].faults[0]: unknown field "rate"`},
		{"missing kind", base + "    faults:\n      - proxy: p\n", "x.yaml:10:9: phases[0].faults[0]: fault kind is missing"},
		{"wrong type list", strings.Replace(base, "phases:", "tags: nope\nphases:", 1), "tags: want a list"},
		{"unknown top", base + "hypotesis: {}\n", `did you mean "hypothesis"`},
		{"bad ref", strings.Replace(base, "http://127.0.0.1:1/", "${nope}/", 1), "unresolvable"},
		{"bad threshold", strings.Replace(base, "rate: 10/s", "rate: 10/s\n  thresholds: ['p99<']", 1), "no value"},
		{"window in hypothesis", base + "hypothesis:\n  a: ['p99 < 1s over 5s']\n", "over applies to abort"},
		{"abort expr", base + "abort: ['p99 <']\n", "want a number or a metric"},
		{"rollback empty", base + "rollbacks:\n  - name: r\n", "needs http or command"},
		{"unknown format", base + "report:\n  formats: [pdf]\n", `unknown format "pdf"`},
		{"crash without shop", base + "    faults:\n      - kind: crash\n        service: store\n", "crash acts on the bundled shop"},
		{"prometheus expect", base + "steady_state:\n  probes:\n    - prometheus: {url: 'http://127.0.0.1:1/metrics', metric: m}\n      expect: p99 < 1s\n", "write it with value"},
		{"link without shop", base + "proxies:\n  - name: p\n    link: catalog->store\n", "add targets.shop: true"},
	}
	for _, c := range cases {
		if c.want == "" {
			continue
		}
		_, err := Parse([]byte(c.src), "x.yaml", Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
		if err != nil && exitcode.Of(err) != exitcode.Usage {
			t.Errorf("%s: exit code %d, want 2", c.name, exitcode.Of(err))
		}
	}
}

func TestFaultPlacement(t *testing.T) {
	t.Parallel()
	src := `name: x
proxies:
  - name: p
    upstream: 127.0.0.1:1
load:
  rate: 10/s
  requests:
    - url: http://127.0.0.1:1/
phases:
  - name: a
    duration: 10s
  - name: b
    duration: 20s
    faults:
      - kind: latency
        proxy: p
        latency: 100ms
        at: 5s
        for: 10s
      - kind: down
        proxy: p
        at: 15s
        for: 10s
`
	_, err := Parse([]byte(src), "x.yaml", Options{})
	if err == nil || !strings.Contains(err.Error(), "x.yaml:23:14: phases[1].faults[1].for: the fault would end 25s into a 20s phase") {
		t.Fatalf("error %v", err)
	}
	// Without for, the second fault lasts until the end of its phase.
	fixed := strings.TrimSuffix(src, "        for: 10s\n")
	plan, err := Parse([]byte(fixed), "x.yaml", Options{TimeScale: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Faults) != 2 || plan.Faults[0].Start.Seconds() != 7.5 || plan.Faults[0].End.Seconds() != 12.5 || plan.Faults[1].End.Seconds() != 15 {
		t.Errorf("faults at %v-%v and %v-%v, want 7.5s-12.5s and 12.5s-15s (time scale 0.5)",
			plan.Faults[0].Start, plan.Faults[0].End, plan.Faults[1].Start, plan.Faults[1].End)
	}
	if plan.Total.Seconds() != 15 || plan.Baseline != "a" {
		t.Errorf("total %v baseline %q", plan.Total, plan.Baseline)
	}
}

// TestExamplesValidate loads every example experiment.
func TestExamplesValidate(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("../examples/*.yaml")
	if len(files) == 0 {
		t.Fatal("no examples found")
	}
	for _, f := range files {
		if _, err := Open(t.Context(), f, Options{}); err != nil {
			t.Errorf("%s:\n%v", f, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("../examples/*.yaml")
	seeds = append(seeds, "testdata/bad.yaml")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("name: x\nphases: [{name: a, duration: 1s}]\nload: {rate: 1/s, requests: [{url: 'http://127.0.0.1:1/'}]}\nhypothesis: {a: ['p99 < 2 * a.p99']}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		// Parse must finish promptly on any input: a hang is a bug.
		type parsed struct {
			plan *Plan
			err  error
		}
		done := make(chan parsed, 1)
		go func() {
			p, err := Parse(src, "fuzz.yaml", Options{})
			done <- parsed{p, err}
		}()
		var res parsed
		select {
		case res = <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("Parse did not return within 5s on %q", src)
		}
		plan, err := res.plan, res.err
		if err != nil {
			if exitcode.Of(err) != exitcode.Usage {
				t.Errorf("error with exit code %d: %v", exitcode.Of(err), err)
			}
			var ps Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Errorf("error is not a list of problems: %v", err)
			}
			return
		}
		if plan.Total <= 0 || len(plan.Phases) == 0 {
			t.Errorf("a valid plan with total %v and %d phases", plan.Total, len(plan.Phases))
		}
	})
}

// TestTimeScaleScalesRecoveryLimits checks that every duration of a
// condition on time_to_recover scales, nested ones included, and that a
// latency limit does not.
func TestTimeScaleScalesRecoveryLimits(t *testing.T) {
	t.Parallel()
	src := `name: x
load:
  rate: 10/s
  requests:
    - url: http://127.0.0.1:1/
phases:
  - name: a
    duration: 10s
hypothesis:
  a:
    - time_to_recover < 2 * 5s + 1s
    - p99 < 250ms
`
	plan, err := Parse([]byte(src), "x.yaml", Options{TimeScale: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	hs := plan.Phases[0].Hypotheses
	sc := &scope{timeToRecover: 0}
	if got := time.Duration(eval(hs[0].Right, sc, sc.samplesOf)); got != 5500*time.Millisecond {
		t.Errorf("scaled recovery limit %v, want 5.5s (half of 11s)", got)
	}
	if got := time.Duration(eval(hs[1].Right, sc, sc.samplesOf)); got != 250*time.Millisecond {
		t.Errorf("latency limit %v: it must not scale", got)
	}
}

// TestEveryRegisteredReportFormatValidates keeps the validator and the
// report registry in step: csv was registered but rejected.
func TestEveryRegisteredReportFormatValidates(t *testing.T) {
	t.Parallel()
	base := "name: x\nload:\n  rate: 10/s\n  requests:\n    - url: http://127.0.0.1:1/\nphases:\n  - name: a\n    duration: 5s\nreport:\n  formats: [" + strings.Join(report.FormatNames(), ", ") + "]\n"
	if _, err := Parse([]byte(base), "x.yaml", Options{}); err != nil {
		t.Fatalf("formats %v: %v", report.FormatNames(), err)
	}
	if !slices.Contains(report.FormatNames(), "csv") {
		t.Fatalf("csv is not registered: %v", report.FormatNames())
	}
}
