package experiments

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

func init() {
	registerProbe(probeKind{name: "http", newCheck: func() probeCheck { return new(HTTPProbe) }})
}

// HTTPProbe sends one request and checks the response.
type HTTPProbe struct {
	Method  string            `yaml:"method"`
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers"`
	Body    string            `yaml:"body"`
	// Status is the expected status code (default: any below 400).
	Status int `yaml:"status"`
	// BodyMatches is a regular expression the body must match.
	BodyMatches string `yaml:"body_matches"`
	// JSONPath picks a value from a JSON body ("status", "items.0.id") that
	// must equal Equals.
	JSONPath string `yaml:"json_path"`
	Equals   string `yaml:"equals"`
	// MaxLatency bounds the response time.
	MaxLatency time.Duration `yaml:"max_latency"`
	Timeout    time.Duration `yaml:"timeout"`
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

func (h *HTTPProbe) check(ctx context.Context, resolve func(string) string) probeResult {
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

func (h *HTTPProbe) validate(v *validator, path string) { v.checkHTTP(path, h) }

func (h *HTTPProbe) describe() string {
	return fmt.Sprintf("http %s %s", orDefault(h.Method, "GET"), h.URL)
}

// checkHTTP checks an HTTP probe, or the HTTP call of a rollback.
func (v *validator) checkHTTP(path string, h *HTTPProbe) {
	if h.URL == "" {
		v.problem(path+".url", "needs a url")
	}
	if h.BodyMatches != "" {
		if _, err := regexp.Compile(h.BodyMatches); err != nil {
			v.problem(path+".body_matches", "%v", err)
		}
	}
	if (h.JSONPath == "") != (h.Equals == "") {
		v.problem(path, "json_path and equals go together")
	}
	if h.Status != 0 && (h.Status < 100 || h.Status > 599) {
		v.problem(path+".status", "%d is not an HTTP status", h.Status)
	}
}
