package experiments

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func init() {
	registerProbe(probeKind{name: "prometheus", newCheck: func() probeCheck { return new(PrometheusProbe) }})
}

// PrometheusProbe reads one number: a sample scraped from a /metrics
// endpoint (URL, Metric, Labels), or the result of a PromQL query to a
// Prometheus server's HTTP API (Server, Query). Expect judges it as
// "value".
type PrometheusProbe struct {
	URL     string            `yaml:"url"`
	Metric  string            `yaml:"metric"`
	Labels  map[string]string `yaml:"labels"`
	Server  string            `yaml:"server"`
	Query   string            `yaml:"query"`
	Timeout time.Duration     `yaml:"timeout"`
}

// prometheusValue reads the probe's number: one sample scraped from a
// /metrics endpoint, or the first result of a PromQL query.
func (p *PrometheusProbe) read(ctx context.Context, resolve func(string) string) (float64, error) {
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = defaultProbeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if p.Query != "" {
		return promQuery(ctx, resolve(p.Server), resolve(p.Query))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, resolve(p.URL), nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := probeClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("scrape %s: %w", resolve(p.URL), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("scrape %s: status %d", resolve(p.URL), resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("scrape %s: %w", resolve(p.URL), err)
	}
	fam, ok := families[p.Metric]
	if !ok {
		return 0, fmt.Errorf("scrape %s: no metric %s", resolve(p.URL), p.Metric)
	}
	var sum float64
	matched := 0
	for _, m := range fam.GetMetric() {
		if !labelsMatch(m, p.Labels) {
			continue
		}
		matched++
		switch {
		case m.GetCounter() != nil:
			sum += m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			sum += m.GetGauge().GetValue()
		case m.GetUntyped() != nil:
			sum += m.GetUntyped().GetValue()
		case m.GetHistogram() != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		case m.GetSummary() != nil:
			sum += float64(m.GetSummary().GetSampleCount())
		}
	}
	if matched == 0 {
		return 0, fmt.Errorf("scrape %s: no series of %s has labels %v", resolve(p.URL), p.Metric, p.Labels)
	}
	// Several matching series add up (a counter over every code, say).
	return sum, nil
}

func labelsMatch(m *dto.Metric, want map[string]string) bool {
	have := map[string]string{}
	for _, l := range m.GetLabel() {
		have[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// promQuery runs an instant query against a Prometheus server's HTTP API.
func promQuery(ctx context.Context, server, query string) (float64, error) {
	u := strings.TrimSuffix(server, "/") + "/api/v1/query?query=" + url.QueryEscape(query)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("query %s: %w", server, err)
	}
	defer resp.Body.Close()
	var doc struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string            `json:"resultType"`
			Result     []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return 0, fmt.Errorf("query %s: %w", server, err)
	}
	if doc.Status != "success" {
		return 0, fmt.Errorf("query %s: %s", server, doc.Error)
	}
	var text string
	switch doc.Data.ResultType {
	case "vector":
		if len(doc.Data.Result) == 0 {
			return 0, fmt.Errorf("query %s: empty result", server)
		}
		var sample struct {
			Value [2]any `json:"value"`
		}
		if err := json.Unmarshal(doc.Data.Result[0], &sample); err != nil {
			return 0, fmt.Errorf("query %s: %w", server, err)
		}
		text, _ = sample.Value[1].(string)
	case "scalar":
		// A scalar result is the pair [time, "value"] itself.
		if len(doc.Data.Result) != 2 || json.Unmarshal(doc.Data.Result[1], &text) != nil {
			return 0, fmt.Errorf("query %s: unexpected scalar result", server)
		}
	default:
		return 0, fmt.Errorf("query %s: result type %s: want a vector or a scalar", server, doc.Data.ResultType)
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return 0, fmt.Errorf("query %s: value %q is not a number", server, text)
	}
	return v, nil
}

func (p *PrometheusProbe) validate(v *validator, path string) {
	switch {
	case p.URL != "" && p.Metric != "" && p.Server == "" && p.Query == "":
	case p.Server != "" && p.Query != "" && p.URL == "" && p.Metric == "":
	default:
		v.problem(path, "scrape an endpoint (url and metric) or query a server (server and query)")
	}
}

func (p *PrometheusProbe) describe() string {
	if p.Query != "" {
		return fmt.Sprintf("PromQL %q on %s", p.Query, p.Server)
	}
	return fmt.Sprintf("%s from %s", p.Metric, p.URL)
}
