package report

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/report/internal/fixture"
)

func TestReadRunFromResults(t *testing.T) {
	t.Parallel()
	run := loadRun(t)
	if len(run.Phases) != 1 || run.Phases[0].Name != LoadPhase || run.IntervalCount() != 5 {
		t.Fatalf("phases %+v, %d intervals", run.Phases, run.IntervalCount())
	}
	if !run.Start.Equal(fixture.Start) || run.End.Sub(run.Start) != 5*time.Second {
		t.Errorf("span %v..%v", run.Start, run.End)
	}
	if run.Total().Completed("") != 2000 {
		t.Errorf("%d requests", run.Total().Completed(""))
	}
	want := []Check{
		{Phase: LoadPhase, Expression: "p99<250ms", Verdict: VerdictHeld, Measured: "5.1ms", Detail: "p99 = 5.1ms"},
		{Phase: LoadPhase, Expression: "error_rate<0.5%", Verdict: VerdictFailed, Measured: "1%", Detail: "error_rate = 1%"},
	}
	if len(run.Checks) != 2 || run.Checks[0] != want[0] || run.Checks[1] != want[1] {
		t.Errorf("checks %+v", run.Checks)
	}
	n := 0
	if err := run.EachInterval(func(_ *Interval, phase int) error {
		if phase != 0 {
			t.Errorf("interval %d outside the load phase", n)
		}
		n++
		return nil
	}); err != nil || n != 5 {
		t.Errorf("read %d intervals again: %v", n, err)
	}
}

// TestReadRunRejectsBadFiles: one clear error that names the file and says
// what is wrong.
func TestReadRunRejectsBadFiles(t *testing.T) {
	t.Parallel()
	good, err := os.ReadFile(fixture.WriteResults(t, t.TempDir(), "r.json", fixture.Stats(1, fixture.Start, 2, func(int) fixture.Spec {
		return fixture.Spec{Names: []string{"a"}, PerName: 10, MedianNs: 1e6}
	}), withThresholds(nil)))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, content, want string
		notInput            bool
	}{
		{"empty", "", "in.json: the file is empty", false},
		{"not json", "hello", "in.json: not a faultline results file or experiment journal: not JSON", true},
		{"array", "[1,2]", "in.json: not a faultline results file or experiment journal: the JSON is not an object", true},
		{"no schema", `{"a":1}`, `in.json: not a faultline results file or experiment journal: no "schema" field`, true},
		{"other schema", `{"schema":"k6/summary","version":1}`, `in.json: not a faultline results file or experiment journal (schema "k6/summary")`, true},
		{"schema not a string", `{"schema":3}`, `"schema" is not a string`, true},
		{"truncated before schema", `{"other":`, "in.json: truncated", false},
		{"newer version", `{"schema":"faultline/results","version":3,"summary":{}}`, "in.json: results version 3 is not supported (this faultline reads version 2)", false},
		{"truncated results", string(good[:len(good)/2]), "in.json: truncated: the JSON ends early", false},
		{"truncated at the end", string(good[:len(good)-3]), "in.json: truncated", false},
		{"damaged histogram", strings.Replace(string(good), `"latency":"HISTF`, `"latency":"HISTX`, 1), "in.json: interval 0", false},
	}
	for _, c := range cases {
		_, err := ReadRun(strings.NewReader(c.content), "in.json")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
			continue
		}
		if strings.Count(err.Error(), "in.json") != 1 {
			t.Errorf("%s: the file is named %d times: %v", c.name, strings.Count(err.Error(), "in.json"), err)
		}
		if errors.Is(err, errNotReportInput) != c.notInput {
			t.Errorf("%s: errors.Is(errNotReportInput) = %v", c.name, !c.notInput)
		}
	}
	if _, err := ReadRun(bytes.NewReader(good), "in.json"); err != nil {
		t.Errorf("the intact file: %v", err)
	}
}

func FuzzReadRun(f *testing.F) {
	f.Add([]byte(`{"schema":"faultline/results","version":1,"started_at":"2023-11-14T22:13:20Z","intervals":[{"start_ms":0,"end_ms":1000,"series":[]}],"summary":{}}`))
	f.Add([]byte(`{"schema":"faultline/results","version":1,"intervals":[{"series":[{"name":"a","latency":""}]}],"summary":{"thresholds":[{"expression":"p99<1s","line":"x"}]}}`))
	f.Add([]byte(`{"schema":"faultline/journal","version":1}`))
	f.Add([]byte(`{"a":[1,{"b":"c"}],"schema":"x"}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		run, err := ReadRun(bytes.NewReader(data), "fuzz.json")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.json: ") {
				t.Errorf("error does not start with the file name: %v", err)
			}
			return
		}
		// Whatever was accepted renders.
		var buf bytes.Buffer
		if err := writeText(&buf, run, Options{}); err != nil {
			t.Errorf("text of an accepted file: %v", err)
		}
	})
}
