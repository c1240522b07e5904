package experiments

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/internal/exitcode"
)

// aliasBomb is a small file whose aliases, nested three lists deep (phases,
// their faults, the faults' names), expand to width^3 values: 400 makes
// 64,000,000 container names from under 8 KB.
func aliasBomb(width int) string {
	refs := func(name string) string {
		return "[" + strings.TrimSuffix(strings.Repeat("*"+name+", ", width), ", ") + "]"
	}
	return fmt.Sprintf(`name: bomb
load:
  rate: 10/s
  requests:
    - url: http://127.0.0.1:1/
names: &n [%s]
fault: &f {kind: kill, names: *n}
phase: &p {name: a, duration: 1s, faults: %s}
phases: %s
`, strings.TrimSuffix(strings.Repeat("c, ", width), ", "), refs("f"), refs("p"))
}

// parseWithin parses src, failing the test when it takes over limit. The
// limits are far above what parsing takes on an idle machine (tens of
// milliseconds): they catch a hang, not a slowdown, so a busy machine does
// not fail them.
func parseWithin(t *testing.T, ctx context.Context, src string, limit time.Duration) error {
	t.Helper()
	start := time.Now()
	_, err := parse(ctx, []byte(src), "x.yaml", Options{})
	if took := time.Since(start); took > limit {
		t.Errorf("parse took %v, want under %v", took, limit)
	}
	return err
}

// TestAliasExpansionIsBounded checks that nested aliases cannot make a
// small file expand without bound: the file is refused, at the alias that
// went over, quickly, and with a bounded list of problems.
func TestAliasExpansionIsBounded(t *testing.T) {
	t.Parallel()
	src := aliasBomb(400)
	if len(src) > 8192 {
		t.Fatalf("bomb is %d bytes", len(src))
	}
	err := parseWithin(t, context.Background(), src, 30*time.Second)
	if exitcode.Of(err) != exitcode.Usage {
		t.Fatalf("exit code %d (%v), want 2", exitcode.Of(err), err)
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %T is not Problems", err)
	}
	if len(ps) > maxProblems+1 {
		t.Errorf("%d problems, want at most %d", len(ps), maxProblems+1)
	}
	if !strings.Contains(err.Error(), "expand to over") {
		t.Errorf("no problem names the alias expansion:\n%v", err)
	}
}

// TestProblemsAreBounded checks that a file with a very large number of
// mistakes lists a bounded number of them and counts the rest.
func TestProblemsAreBounded(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("name: x\nload: {rate: 1/s, requests: [{url: 'http://127.0.0.1:1/'}]}\nphases:\n")
	for i := range 20000 {
		fmt.Fprintf(&b, "  - {name: p%d, duration: 1s, rate: nope}\n", i)
	}
	err := parseWithin(t, context.Background(), b.String(), 30*time.Second)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %v is not Problems", err)
	}
	if len(ps) != maxProblems+1 || !strings.Contains(ps[len(ps)-1].Msg, "19900 more problems") {
		t.Errorf("%d problems, the last %q; want %d and a count of 19900 more", len(ps), ps[len(ps)-1].Msg, maxProblems+1)
	}
}

// TestParseStopsWhenCancelled checks that a cancelled context stops
// decoding and validation: the error is the context's (exit 130).
func TestParseStopsWhenCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := parseWithin(t, ctx, aliasBomb(400), 30*time.Second)
	if !errors.Is(err, context.Canceled) || exitcode.Of(err) != exitcode.Interrupted {
		t.Errorf("error %v (exit %d), want context.Canceled (exit 130)", err, exitcode.Of(err))
	}
}
