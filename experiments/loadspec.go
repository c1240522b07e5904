package experiments

import (
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
)

// loadSpec is the experiment's one load through every phase, as the
// loadgen.Spec that faultline load also builds its options from: each phase
// is a step of the schedule (its own rate or number of users). resolve
// expands ${...} references in URLs, headers and bodies; tool names faultline
// and its version.
func loadSpec(plan *Plan, resolve func(string) string, tool string) (loadgen.Spec, error) {
	l := plan.Exp.Load
	spec := loadgen.Spec{
		Shape: loadgen.Shape{Model: plan.Model, Poisson: l.Poisson, Seed: plan.Exp.Seed},
		Tool:  tool, ThinkTime: l.ThinkTime, Connections: l.Connections, MaxInFlight: l.MaxInFlight,
		Timeout: l.Timeout, ConnectTimeout: l.ConnectTimeout, HTTP2: l.HTTP2,
		TLS: loadgen.TLSOptions{Insecure: l.Insecure},
		// Intervals shrink with the time scale, so a scaled-down run keeps
		// as many intervals per phase for its statistics.
		Interval: max(100*time.Millisecond, time.Duration(float64(time.Second)*plan.TimeScale)),
	}
	for _, p := range plan.Phases {
		st := loadgen.Stage{Duration: p.End - p.Start, Step: true, Target: p.Rate}
		if plan.Model == loadgen.Closed {
			st.Target = float64(p.Concurrency)
		}
		spec.Shape.Stages = append(spec.Shape.Stages, st)
	}
	if plan.Model == loadgen.Open {
		spec.Shape.Rate = plan.Phases[0].Rate
	} else {
		spec.Shape.Concurrency = plan.Phases[0].Concurrency
	}
	for _, rs := range l.Requests {
		t, err := loadgen.NewTarget(orDefault(rs.Method, http.MethodGet), resolve(rs.URL))
		if err != nil {
			return spec, fmt.Errorf("request %s: %w", rs.Name, err)
		}
		t.Name, t.Weight = rs.Name, max(rs.Weight, 1)
		for k, v := range rs.Headers {
			t.Header.Set(k, resolve(v))
		}
		switch {
		case rs.BodyFile != "":
			b, err := os.ReadFile(plan.resolvePath(rs.BodyFile))
			if err != nil {
				return spec, fmt.Errorf("request %s: %w", rs.Name, err)
			}
			t.Body = b
		case rs.Body != "":
			t.Body = []byte(resolve(rs.Body))
		}
		spec.Targets = append(spec.Targets, t)
	}
	return spec, nil
}
