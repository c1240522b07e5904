package report

import (
	"bytes"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestPrometheusParsesAndAgreesWithJSON reads the exposition back with
// Prometheus's own parser and checks its figures against the JSON report.
func TestPrometheusParsesAndAgreesWithJSON(t *testing.T) {
	t.Parallel()
	run := experimentRun()
	var buf bytes.Buffer
	if err := writePrometheus(&buf, run, Options{}); err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(&buf)
	if err != nil {
		t.Fatalf("not valid exposition: %v", err)
	}
	doc := buildReportJSON(run)
	value := func(family string, labels map[string]string) (float64, bool) {
		mf, ok := families[family]
		if !ok {
			t.Fatalf("no family %s", family)
		}
		for _, m := range mf.GetMetric() {
			match := true
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					match = false
				}
			}
			if match {
				switch {
				case m.Counter != nil:
					return m.GetCounter().GetValue(), true
				case m.Gauge != nil:
					return m.GetGauge().GetValue(), true
				case m.Summary != nil:
					for _, q := range m.GetSummary().GetQuantile() {
						if q.GetQuantile() == 0.99 {
							return q.GetValue(), true
						}
					}
				}
			}
		}
		return 0, false
	}
	for _, p := range doc.Phases {
		for _, st := range append([]StatJSON{p.All}, p.Requests...) {
			labels := map[string]string{"phase": p.Name, "request": st.Request}
			if v, _ := value("faultline_requests_total", labels); v != float64(st.Count) {
				t.Errorf("%v requests %v, JSON says %d", labels, v, st.Count)
			}
			if v, _ := value("faultline_requests_failed_total", labels); v != float64(st.Failed) {
				t.Errorf("%v failed %v, JSON says %d", labels, v, st.Failed)
			}
			if v, _ := value("faultline_latency_seconds", labels); v != seconds(st.Latency.P99) {
				t.Errorf("%v p99 %vs, JSON says %vms", labels, v, st.Latency.P99)
			}
		}
	}
	if v, _ := value("faultline_requests_total", map[string]string{"phase": "*", "request": "*"}); v != float64(doc.Total.All.Count) {
		t.Errorf("whole run: %v requests, JSON says %d", v, doc.Total.All.Count)
	}
	if len(doc.Checks) == 0 || len(families["faultline_check_held"].GetMetric()) != len(doc.Checks) {
		t.Errorf("%d checks exposed for %d in the run", len(families["faultline_check_held"].GetMetric()), len(doc.Checks))
	}
	if len(doc.Faults) == 0 || len(families["faultline_fault_duration_seconds"].GetMetric()) != len(doc.Faults) {
		t.Errorf("faults: %d exposed for %d in the run", len(families["faultline_fault_duration_seconds"].GetMetric()), len(doc.Faults))
	}
}
