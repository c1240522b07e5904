package experiments

import (
	"testing"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
)

// faultline run builds its load through the same loadgen.Spec as faultline
// load: the phases become steps of one schedule, and the requests carry the
// same User-Agent.
func TestTheExperimentLoadIsASpec(t *testing.T) {
	t.Parallel()
	src := `name: x
load:
  rate: 100/s
  requests:
    - url: ${env.BASE}/a
      headers: {X-Test: "${env.BASE}"}
phases:
  - name: a
    duration: 2s
  - name: b
    duration: 1s
    rate: 300/s
`
	plan, err := Parse([]byte(src), "x.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	resolve := func(s string) string {
		if s == "${env.BASE}/a" {
			return "http://127.0.0.1:1/a"
		}
		return "resolved"
	}
	spec, err := loadSpec(plan, resolve, "faultline 9.9.9")
	if err != nil {
		t.Fatal(err)
	}
	o, err := spec.Options()
	if err != nil {
		t.Fatal(err)
	}
	if o.UserAgent != "faultline/9.9.9" || o.Model != loadgen.Open {
		t.Errorf("user agent %q, model %s", o.UserAgent, o.Model)
	}
	if got := o.Schedule.Planned(); got != 200+300 {
		t.Errorf("the phases plan %d requests, want 500", got)
	}
	if d := o.Schedule.Duration(); d != 3*time.Second {
		t.Errorf("schedule of %v, want 3s", d)
	}
	if tg := o.Targets[0]; tg.URL.String() != "http://127.0.0.1:1/a" || tg.Header.Get("X-Test") != "resolved" {
		t.Errorf("target %v with headers %v", tg.URL, tg.Header)
	}
}
