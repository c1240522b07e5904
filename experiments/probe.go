package experiments

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

const defaultProbeTimeout = 5 * time.Second

// probeResult is what one probe found.
type probeResult struct {
	Verdict  Verdict
	Measured string
	Detail   string
}

// runProbe checks p. samples are the load's intervals the metric probes
// judge; resolve expands ${...} references.
func runProbe(ctx context.Context, p *Probe, samples []*sample, resolve func(string) string, rng *rand.Rand) probeResult {
	switch {
	case p.Spec.HTTP != nil:
		return httpProbe(ctx, p.Spec.HTTP, resolve)
	case p.Spec.Prometheus != nil:
		v, err := prometheusValue(ctx, p.Spec.Prometheus, resolve)
		if err != nil {
			return probeResult{Verdict: Deviated, Detail: err.Error()}
		}
		j := judge(p.Expect, &scope{current: samples, value: v, timeToRecover: math.NaN()}, rng)
		return probeResult{Verdict: j.Verdict, Measured: strconv.FormatFloat(v, 'g', 6, 64), Detail: j.Detail}
	case p.Spec.Command != nil:
		return commandProbe(ctx, p.Spec.Command, resolve)
	default:
		j := judge(p.Expect, &scope{current: samples, timeToRecover: math.NaN()}, rng)
		return probeResult{Verdict: j.Verdict, Measured: j.Measured, Detail: j.Detail}
	}
}

// doHTTP sends the request an HTTP probe or rollback describes.
func doHTTP(ctx context.Context, h *HTTPProbe, resolve func(string) string) (*http.Response, []byte, time.Duration, error) {
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = defaultProbeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader
	if h.Body != "" {
		body = strings.NewReader(resolve(h.Body))
	}
	req, err := http.NewRequestWithContext(ctx, orDefault(h.Method, http.MethodGet), resolve(h.URL), body)
	if err != nil {
		return nil, nil, 0, err
	}
	for k, v := range h.Headers {
		req.Header.Set(k, resolve(v))
	}
	began := time.Now()
	resp, err := probeClient.Do(req)
	if err != nil {
		return nil, nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp, b, time.Since(began), err
}

// probeClient keeps no connections between probes, so a probe sees the
// target as a new client would.
var probeClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func httpProbe(ctx context.Context, h *HTTPProbe, resolve func(string) string) probeResult {
	resp, body, took, err := doHTTP(ctx, h, resolve)
	if err != nil {
		return probeResult{Verdict: Deviated, Detail: fmt.Sprintf("%s %s: %v", orDefault(h.Method, "GET"), resolve(h.URL), err)}
	}
	measured := fmt.Sprintf("%d in %s", resp.StatusCode, took.Round(time.Microsecond))
	fail := func(format string, args ...any) probeResult {
		return probeResult{Verdict: Deviated, Measured: measured, Detail: fmt.Sprintf(format, args...)}
	}
	switch {
	case h.Status != 0 && resp.StatusCode != h.Status:
		return fail("status %d, want %d", resp.StatusCode, h.Status)
	case h.Status == 0 && resp.StatusCode >= 400:
		return fail("status %d, want below 400", resp.StatusCode)
	case h.MaxLatency > 0 && took > h.MaxLatency:
		return fail("answered in %s, want at most %s", took.Round(time.Microsecond), h.MaxLatency)
	}
	if h.BodyMatches != "" {
		if !regexp.MustCompile(h.BodyMatches).Match(body) {
			return fail("body does not match %q", h.BodyMatches)
		}
	}
	if h.JSONPath != "" {
		got, err := jsonPath(body, h.JSONPath)
		if err != nil {
			return fail("json_path %s: %v", h.JSONPath, err)
		}
		if got != resolve(h.Equals) {
			return fail("json_path %s = %q, want %q", h.JSONPath, got, resolve(h.Equals))
		}
	}
	return probeResult{Verdict: Held, Measured: measured, Detail: "ok"}
}

// jsonPath follows a dotted path ("items.0.id", an optional leading "$.")
// through a JSON document and returns the value found, as text.
func jsonPath(body []byte, path string) (string, error) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return "", fmt.Errorf("the body is not JSON: %w", err)
	}
	path = strings.TrimPrefix(strings.TrimPrefix(path, "$"), ".")
	for _, part := range strings.Split(path, ".") {
		if part == "" {
			continue
		}
		switch x := v.(type) {
		case map[string]any:
			next, ok := x[part]
			if !ok {
				return "", fmt.Errorf("no key %q", part)
			}
			v = next
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(x) {
				return "", fmt.Errorf("no index %q in a list of %d", part, len(x))
			}
			v = x[i]
		default:
			return "", fmt.Errorf("%q goes past a value", part)
		}
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case nil:
		return "null", nil
	default:
		b, _ := json.Marshal(x)
		return string(b), nil
	}
}

// prometheusValue reads the probe's number: one sample scraped from a
// /metrics endpoint, or the first result of a PromQL query.
func prometheusValue(ctx context.Context, p *PrometheusProbe, resolve func(string) string) (float64, error) {
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

func commandProbe(ctx context.Context, c *CommandProbe, resolve func(string) string) probeResult {
	out, code, err := runCommand(ctx, c.Run, c.Timeout, resolve)
	measured := fmt.Sprintf("exit %d", code)
	if err != nil {
		return probeResult{Verdict: Deviated, Measured: measured, Detail: err.Error()}
	}
	if code != c.ExitCode {
		return probeResult{Verdict: Deviated, Measured: measured, Detail: fmt.Sprintf("exit code %d, want %d", code, c.ExitCode)}
	}
	if c.StdoutMatches != "" && !regexp.MustCompile(c.StdoutMatches).Match(out) {
		return probeResult{Verdict: Deviated, Measured: measured, Detail: fmt.Sprintf("stdout does not match %q", c.StdoutMatches)}
	}
	return probeResult{Verdict: Held, Measured: measured, Detail: "ok"}
}

// runCommand runs argv with a timeout and returns its stdout and exit code.
// An error means it could not run or did not finish in time.
func runCommand(ctx context.Context, argv []string, timeout time.Duration, resolve func(string) string) ([]byte, int, error) {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	args := make([]string, len(argv))
	for i, a := range argv {
		args[i] = resolve(a)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return stdout.Bytes(), 0, nil
	case ctx.Err() != nil:
		return stdout.Bytes(), -1, fmt.Errorf("%s did not finish within %s", args[0], timeout)
	case errors.As(err, &exit):
		return stdout.Bytes(), exit.ExitCode(), nil
	default:
		return stdout.Bytes(), -1, fmt.Errorf("run %s: %w", args[0], err)
	}
}
