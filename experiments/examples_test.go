package experiments

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/chaos/docker"
	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/internal/testenv"
	"github.com/faultline-dev/faultline/report/journal"
	"github.com/faultline-dev/faultline/targets"
)

// exampleScale shortens every example for the test; intervals shrink with
// it, so the statistics see as many of them.
const exampleScale = 0.4

// TestExamplesRun runs every example experiment, shortened, and checks its
// verdict, that nothing is left injected, and that the journal is whole.
// The examples run one after another: they measure latency, and two at once
// on a small machine would measure each other.
func TestExamplesRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every example (a few minutes)")
	}
	cases := exampleCases
	listed := map[string]bool{}
	for _, c := range cases {
		listed[c.file] = true
	}
	files, _ := filepath.Glob("../examples/*.yaml")
	for _, f := range files {
		if !listed[filepath.Base(f)] {
			t.Errorf("example %s has no expected verdict here", f)
		}
	}
	for _, c := range cases {
		t.Run(strings.TrimSuffix(c.file, ".yaml"), func(t *testing.T) { runExample(t, c) })
	}
}

// exampleCase is an example experiment and the verdict expected of it.
type exampleCase struct {
	file     string
	want     exitcode.Code
	docker   bool
	kube     bool    // runs on the test cluster: the namespace and image are the test's
	deviated string  // a hypothesis expected to deviate
	scale    float64 // 0: exampleScale
	// faultNote is expected in the journal's note of a reverted fault
	// (what it did, such as the requests an HTTP fault touched).
	faultNote string
}

var exampleCases = []exampleCase{
	{file: "quickstart.yaml", want: exitcode.OK},
	// A breaker's window and cool-down are the shop's settings, which
	// the time scale leaves alone: these two need longer phases for the
	// requests that trip it to stay a small share.
	{file: "circuit-breaker.yaml", want: exitcode.OK, scale: 0.6},
	{file: "rate-limiter.yaml", want: exitcode.OK},
	{file: "bandwidth.yaml", want: exitcode.OK},
	{file: "ci-gate.yaml", want: exitcode.OK},
	{file: "retry-storm.yaml", want: exitcode.Failed, deviated: "p50 < 2 * baseline.p50"},
	{file: "container-kill.yaml", want: exitcode.OK, docker: true, scale: 0.6},
	{file: "k8s-pod-kill.yaml", want: exitcode.OK, kube: true, scale: 1},
	{file: "k8s-cpu-stress.yaml", want: exitcode.OK, kube: true, scale: 0.5},
	{file: "k8s-service-latency.yaml", want: exitcode.OK, kube: true, scale: 0.5},
	{file: "http-faults.yaml", want: exitcode.OK, faultNote: "matching requests"},
	{file: "cpu-stress.yaml", want: exitcode.OK, faultNote: "service store: held"},
	{file: "partition.yaml", want: exitcode.OK, docker: true, scale: 0.6, faultNote: "back on"},
}

// runExample runs one example and checks its verdict, that nothing is
// left injected, that the journal is whole and the reports written.
func runExample(t *testing.T, c exampleCase) {
	t.Helper()
	opts := RunOptions{LedgerPath: filepath.Join(t.TempDir(), "ledger.jsonl"), Dir: t.TempDir(), Tool: "test"}
	if c.docker {
		testenv.Docker(t)
		opts.Image = buildTargetsImage(t)
	}
	var checkCluster func(*testing.T)
	if c.kube {
		checkCluster = kubeExample(t, &opts)
	}
	var log bytes.Buffer
	opts.Log = &log
	stepSummary := filepath.Join(t.TempDir(), "step-summary.md")
	opts.Getenv = func(name string) string {
		if name == "GITHUB_STEP_SUMMARY" {
			return stepSummary
		}
		return os.Getenv(name)
	}
	scale := c.scale
	if scale == 0 {
		scale = exampleScale
	}
	plan, err := Open(t.Context(), filepath.Join("..", "examples", c.file), Options{TimeScale: scale})
	if err != nil {
		t.Fatal(err)
	}
	out, err := Run(context.Background(), plan, opts)
	if err != nil {
		t.Fatal(err)
	}
	var summary bytes.Buffer
	_ = WriteSummary(&summary, out)
	if out.Code != c.want {
		t.Fatalf("exit %d, want %d\n%s\nlog:\n%s", out.Code, c.want, summary.String(), log.String())
	}
	if c.deviated != "" {
		found := false
		for _, ch := range out.Checks {
			found = found || (ch.Expression == c.deviated && ch.Verdict == string(Deviated))
		}
		if !found {
			t.Errorf("%q did not deviate:\n%s", c.deviated, summary.String())
		}
	}
	checkFaultNote(t, c, out, summary.String())
	if checkCluster != nil {
		checkCluster(t)
	}
	ledger, err := chaos.OpenLedger(opts.LedgerPath)
	if err != nil {
		t.Fatal(err)
	}
	if active, err := ledger.Active(); err != nil || len(active) != 0 {
		t.Errorf("ledger lists %d active faults after the run (err %v)", len(active), err)
	}
	f, err := os.Open(out.Journal)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	j, err := journal.Read(f, out.Journal)
	if err != nil {
		t.Fatal(err)
	}
	if j.End == nil || j.End.ExitCode != int(c.want) || len(j.Intervals) == 0 {
		t.Errorf("journal: end %+v, %d intervals", j.End, len(j.Intervals))
	}
	want := len(plan.Exp.Report.Formats)
	if want == 0 {
		want = len(defaultFormats)
	}
	if len(out.Reports) != want {
		t.Errorf("wrote reports %v, want %d", out.Reports, want)
	}
	if b, err := os.ReadFile(stepSummary); (err != nil || len(b) == 0) == containsFormat(plan, "markdown") {
		t.Errorf("$GITHUB_STEP_SUMMARY: %d bytes (err %v), markdown asked for: %v", len(b), err, containsFormat(plan, "markdown"))
	}
	for _, path := range out.Reports {
		if st, err := os.Stat(path); err != nil || st.Size() == 0 {
			t.Errorf("report %s: %v", path, err)
		}
	}
}

// buildTargetsImage builds the targets image around the static faultline
// binary and removes it when the test ends.
func buildTargetsImage(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tag := fmt.Sprintf("faultline/targets-test:%d", time.Now().UnixNano())
	if _, err := targets.BuildImageWithEngine(ctx, targets.ImageOptions{
		Binary: testenv.BuildFaultline(t), Tag: tag, Labels: map[string]string{"faultline.test": "1"},
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		eng, err := docker.Connect(context.Background())
		if err != nil {
			t.Errorf("remove image %s: %v", tag, err)
			return
		}
		defer eng.Close()
		if err := eng.RemoveImage(context.Background(), tag); err != nil {
			t.Errorf("remove image %s: %v", tag, err)
		}
	})
	return tag
}

func containsFormat(p *Plan, name string) bool {
	formats := p.Exp.Report.Formats
	if len(formats) == 0 {
		formats = defaultFormats
	}
	for _, f := range formats {
		if f == name {
			return true
		}
	}
	return false
}

// checkFaultNote checks that a reverted fault's journal record says what
// the fault did, and logs it with the run's summary: the figures the
// example's comments cite.
func checkFaultNote(t *testing.T, c exampleCase, out *Result, summary string) {
	t.Helper()
	if c.faultNote == "" {
		return
	}
	for _, f := range out.Faults {
		if f.Event == "reverted" && strings.Contains(f.Note, c.faultNote) {
			t.Logf("%s: %s\n%s", f.Label, f.Note, summary)
			return
		}
	}
	t.Errorf("no reverted fault notes %q: %+v", c.faultNote, out.Faults)
}
