package loadgen

import (
	"strings"
	"testing"
	"time"
)

func TestSpecBuildsTheOptions(t *testing.T) {
	t.Parallel()
	target, _ := NewTarget("GET", "http://127.0.0.1:1/")
	spec := Spec{
		Shape:   Shape{Model: Open, Rate: 300, Duration: time.Second},
		Segment: Segment{Index: 1, Count: 3}, Targets: []Target{target}, Tool: "faultline 1.2.0",
	}
	o, err := spec.Options()
	if err != nil {
		t.Fatal(err)
	}
	if o.UserAgent != "faultline/1.2.0" || o.Model != Open {
		t.Errorf("user agent %q, model %q", o.UserAgent, o.Model)
	}
	if n := o.Schedule.Planned(); n != 100 {
		t.Errorf("segment 1/3 of 300 requests plans %d, want 100", n)
	}
	for tool, want := range map[string]string{"": DefaultUserAgent, "test": "test", "faultline 0.1.0 dev": "faultline/0.1.0-dev"} {
		if got := userAgent(tool); got != want {
			t.Errorf("userAgent(%q) = %q, want %q", tool, got, want)
		}
	}
	spec.Shape.Rate = 0
	if _, err := spec.Options(); err == nil || !strings.Contains(err.Error(), "needs a rate above zero") {
		t.Errorf("a zero rate: %v", err)
	}
}
