package report

import (
	"io"
	"math"
	"sort"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

func init() {
	RegisterFormat(Format{Name: "prometheus", Extension: ".prom", Render: writePrometheus,
		Description: "the run's final figures per phase and request (statuses and error classes included) in the Prometheus text exposition format, for a Pushgateway or node_exporter's textfile collector"})
}

// writePrometheus writes the run's final figures (per phase, "*" for the
// whole run, and per request name, "*" for all) as one snapshot in the
// Prometheus text exposition format (version 0.0.4), so that CI can push
// each run's figures to a Pushgateway, or drop them where node_exporter's
// textfile collector reads them, and graph runs against each other. The
// figures are those of the JSON report; latencies are in seconds.
func writePrometheus(w io.Writer, r *Run, _ Options) error {
	doc := buildReportJSON(r)
	spans := append([]SpanJSON{doc.Total}, doc.Phases...)
	spans[0].Name = "*"
	families := []*dto.MetricFamily{
		family("faultline_run_info", "the run: its title, load model and where latency is measured from; always 1", dto.MetricType_GAUGE,
			gauge(1, "title", doc.Title, "model", string(doc.Model), "latency_measured_from", doc.LatencyFrom)),
		family("faultline_run_duration_seconds", "how long the run lasted", dto.MetricType_GAUGE,
			gauge(doc.End.Sub(doc.Start).Seconds())),
	}
	var requests, failed, dropped, rate, latency, responses, transport []*dto.Metric
	for _, sp := range spans {
		dropped = append(dropped, counter(float64(sp.Dropped), "phase", sp.Name))
		for _, st := range append([]StatJSON{sp.All}, sp.Requests...) {
			labels := []string{"phase", sp.Name, "request", st.Request}
			requests = append(requests, counter(float64(st.Count), labels...))
			failed = append(failed, counter(float64(st.Failed), labels...))
			rate = append(rate, gauge(st.Rate, labels...))
			latency = append(latency, summary(st.Latency, labels...))
			for _, code := range sortedKeys(st.Status) {
				responses = append(responses, counter(float64(st.Status[code]), append(labels, "code", code)...))
			}
			for _, class := range sortedKeys(st.Errors) {
				transport = append(transport, counter(float64(st.Errors[class]), append(labels, "class", class)...))
			}
		}
	}
	families = append(families,
		family("faultline_requests_total", "requests completed, failed ones included", dto.MetricType_COUNTER, requests...),
		family("faultline_requests_failed_total", "requests that failed (an error, or a status the load counts as failed)", dto.MetricType_COUNTER, failed...),
		family("faultline_requests_dropped_total", "requests the generator could not send on time (counted, never silently lost)", dto.MetricType_COUNTER, dropped...),
		family("faultline_request_rate", "requests completed per second", dto.MetricType_GAUGE, rate...),
		family("faultline_latency_seconds", "request latency, measured from the "+doc.LatencyFrom, dto.MetricType_SUMMARY, latency...),
	)
	if len(responses) > 0 {
		families = append(families, family("faultline_responses_total", "responses by HTTP status code", dto.MetricType_COUNTER, responses...))
	}
	if len(transport) > 0 {
		families = append(families, family("faultline_transport_errors_total", "requests that got no response, by error class (timeout, refused, reset, tls, other)", dto.MetricType_COUNTER, transport...))
	}
	var checks []*dto.Metric
	for _, c := range doc.Checks {
		held := 0.0
		if c.Verdict == VerdictHeld {
			held = 1
		}
		checks = append(checks, gauge(held, "phase", c.Phase, "expression", c.Expression, "verdict", c.Verdict))
	}
	if len(checks) > 0 {
		families = append(families, family("faultline_check_held", "1 when the threshold or hypothesis held, else 0; its verdict is a label", dto.MetricType_GAUGE, checks...))
	}
	var faults []*dto.Metric
	for _, f := range doc.Faults {
		end := doc.End
		if f.Reverted != nil {
			end = *f.Reverted
		}
		faults = append(faults, gauge(end.Sub(f.Injected).Seconds(), "fault", f.Name, "kind", f.Kind, "target", f.Target))
	}
	if len(faults) > 0 {
		families = append(families, family("faultline_fault_duration_seconds", "how long each fault was injected", dto.MetricType_GAUGE, faults...))
	}
	for _, mf := range families {
		if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
			return err
		}
	}
	return nil
}

// sortedKeys lists m's keys in order, so the exposition is the same from
// run to run.
func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func family(name, help string, typ dto.MetricType, metrics ...*dto.Metric) *dto.MetricFamily {
	return &dto.MetricFamily{Name: ref(name), Help: ref(help), Type: typ.Enum(), Metric: metrics}
}

// labelPairs turns name, value, name, value... into label pairs sorted by
// name, leaving out empty values (an empty label is no label).
func labelPairs(kv []string) []*dto.LabelPair {
	var out []*dto.LabelPair
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			out = append(out, &dto.LabelPair{Name: ref(kv[i]), Value: ref(kv[i+1])})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out
}

func gauge(v float64, labels ...string) *dto.Metric {
	return &dto.Metric{Label: labelPairs(labels), Gauge: &dto.Gauge{Value: ref(v)}}
}

func counter(v float64, labels ...string) *dto.Metric {
	return &dto.Metric{Label: labelPairs(labels), Counter: &dto.Counter{Value: ref(v)}}
}

// summary is a latency distribution (milliseconds) as a Prometheus
// summary in seconds.
func summary(p Percentiles, labels ...string) *dto.Metric {
	q := func(quantile, ms float64) *dto.Quantile {
		return &dto.Quantile{Quantile: ref(quantile), Value: ref(seconds(ms))}
	}
	return &dto.Metric{Label: labelPairs(labels), Summary: &dto.Summary{
		SampleCount: ref(uint64(p.Count)),
		SampleSum:   ref(seconds(p.Mean * float64(p.Count))),
		Quantile:    []*dto.Quantile{q(0.5, p.P50), q(0.9, p.P90), q(0.99, p.P99), q(0.999, p.P999), q(0.9999, p.P9999), q(1, p.Max)},
	}}
}

// seconds converts milliseconds, rounded to the nanosecond the histograms
// record, so that 5.238783ms is written 0.005238783.
func seconds(ms float64) float64 { return math.Round(ms*1e6) / 1e9 }

// ref returns a pointer to v: the exposition structs are protobuf messages,
// whose fields are pointers.
func ref[T any](v T) *T { return &v }
