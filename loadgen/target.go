package loadgen

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Target is one kind of request the engine sends.
type Target struct {
	// Name groups the target's statistics; it defaults to "METHOD /path".
	Name   string
	Method string
	URL    *url.URL
	Header http.Header
	Body   []byte
	// Weight is the target's share of requests relative to the others
	// (default 1).
	Weight int
}

// NewTarget builds a target from a method and a raw URL, checking both.
func NewTarget(method, rawURL string) (Target, error) {
	if method == "" {
		method = http.MethodGet
	}
	if !validMethod(method) {
		return Target{}, fmt.Errorf("invalid method %q", method)
	}
	// A bare host:port ("127.0.0.1:8080", "localhost:8080") either fails to
	// parse or parses with the host as its scheme: say what was meant.
	if !strings.Contains(rawURL, "://") {
		return Target{}, fmt.Errorf("invalid URL %q: no scheme: did you mean %q?", rawURL, "http://"+rawURL)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return Target{}, fmt.Errorf("invalid URL %q: %w", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return Target{}, fmt.Errorf("invalid URL %q: scheme must be http or https", rawURL)
	}
	if u.Host == "" {
		return Target{}, fmt.Errorf("invalid URL %q: no host", rawURL)
	}
	return Target{Method: method, URL: u, Header: http.Header{}, Weight: 1}, nil
}

// DefaultName is the name a target gets when none is given.
func (t Target) DefaultName() string {
	p := t.URL.EscapedPath()
	if p == "" {
		p = "/"
	}
	return t.Method + " " + p
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, r := range m {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

// ParseTargets reads targets in vegeta's http format: a request line
// "METHOD URL", then header lines "Name: value", then an optional "@path" line
// naming a body file (relative to the targets file's folder), with blank
// lines between targets. A comment line of name=value pairs right before a
// request line names and weights that target ("# name=checkout weight=3");
// other lines starting with # are comments. file is used in errors and to
// resolve body paths.
func ParseTargets(r io.Reader, file string) ([]Target, error) {
	var (
		targets []Target
		cur     *Target
		pending struct {
			name   string
			weight int
			line   int
		}
		sc   = bufio.NewScanner(r)
		line int
	)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	where := func() string { return fmt.Sprintf("%s:%d", file, line) }
	finish := func() {
		if cur != nil {
			targets = append(targets, *cur)
			cur = nil
		}
	}
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		switch {
		case text == "":
			finish()
		case strings.HasPrefix(text, "#"):
			name, weight, ok, err := parseDirective(strings.TrimSpace(text[1:]))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where(), err)
			}
			if ok {
				if cur != nil {
					finish()
				}
				pending.name, pending.weight, pending.line = name, weight, line
			}
		case cur == nil:
			t, err := parseRequestLine(text, pending.name, pending.weight)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where(), err)
			}
			pending.name, pending.weight = "", 0
			cur = &t
		case strings.HasPrefix(text, "@"):
			body, err := readBodyFile(strings.TrimSpace(text[1:]), file)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where(), err)
			}
			cur.Body = body
		default:
			name, value, ok := strings.Cut(text, ":")
			if !ok || strings.TrimSpace(name) == "" || strings.ContainsAny(strings.TrimSpace(name), " \t") {
				return nil, fmt.Errorf("%s: want a header line \"Name: value\", got %q", where(), text)
			}
			cur.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	finish()
	if len(targets) == 0 {
		return nil, fmt.Errorf("%s: no targets", file)
	}
	return targets, nil
}

// parseRequestLine reads a request line "METHOD URL" into a target named
// and weighted by the directive before it; an empty name means the default
// name and a weight of 0 means 1.
func parseRequestLine(text, name string, weight int) (Target, error) {
	method, rawURL, ok := strings.Cut(text, " ")
	if !ok {
		return Target{}, fmt.Errorf("want a request line \"METHOD URL\", got %q", text)
	}
	t, err := NewTarget(method, strings.TrimSpace(rawURL))
	if err != nil {
		return Target{}, err
	}
	t.Name, t.Weight = name, 1
	if weight > 0 {
		t.Weight = weight
	}
	if t.Name == "" {
		t.Name = t.DefaultName()
	}
	return t, nil
}

// readBodyFile reads the body file of an "@path" line. A relative path is
// taken from the targets file's folder, so a targets file and its bodies
// can move together, whatever the working directory.
func readBodyFile(path, file string) ([]byte, error) {
	if !filepath.IsAbs(path) && file != "" {
		path = filepath.Join(filepath.Dir(file), path)
	}
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	return body, nil
}

// parseDirective reads "name=checkout weight=3". ok is false for a comment
// that is not a directive.
func parseDirective(s string) (name string, weight int, ok bool, err error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return "", 0, false, nil
	}
	for _, f := range fields {
		k, _, has := strings.Cut(f, "=")
		if !has || (k != "name" && k != "weight") {
			return "", 0, false, nil
		}
	}
	for _, f := range fields {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "name":
			if v == "" {
				return "", 0, false, fmt.Errorf("empty target name")
			}
			name = v
		case "weight":
			w, err := strconv.Atoi(v)
			if err != nil || w < 1 {
				return "", 0, false, fmt.Errorf("weight %q: want a whole number >= 1", v)
			}
			weight = w
		}
	}
	return name, weight, true, nil
}

// picker chooses targets in proportion to their weights by smooth weighted
// round robin, so that every window of sum(weights) requests holds each
// target exactly weight times.
type picker struct {
	weights []int
	current []int
	total   int
}

func newPicker(targets []Target) *picker {
	p := &picker{weights: make([]int, len(targets)), current: make([]int, len(targets))}
	for i, t := range targets {
		w := t.Weight
		if w < 1 {
			w = 1
		}
		p.weights[i] = w
		p.total += w
	}
	return p
}

func (p *picker) next() int {
	if len(p.weights) == 1 {
		return 0
	}
	best := 0
	for i, w := range p.weights {
		p.current[i] += w
		if p.current[i] > p.current[best] {
			best = i
		}
	}
	p.current[best] -= p.total
	return best
}

// rawRequest is a target serialised once as HTTP/1.1 bytes, ready to write.
func rawRequest(t Target, userAgent string) []byte {
	var b bytes.Buffer
	uri := t.URL.RequestURI()
	b.WriteString(t.Method)
	b.WriteByte(' ')
	b.WriteString(uri)
	b.WriteString(" HTTP/1.1\r\n")
	host := t.Header.Get("Host")
	if host == "" {
		host = t.URL.Host
	}
	b.WriteString("Host: " + host + "\r\n")
	if t.Header.Get("User-Agent") == "" {
		b.WriteString("User-Agent: " + userAgent + "\r\n")
	}
	for name, values := range t.Header {
		canon := textproto.CanonicalMIMEHeaderKey(name)
		if canon == "Host" || canon == "Content-Length" {
			continue
		}
		for _, v := range values {
			b.WriteString(canon + ": " + v + "\r\n")
		}
	}
	if len(t.Body) > 0 || t.Method == http.MethodPost || t.Method == http.MethodPut || t.Method == http.MethodPatch {
		b.WriteString("Content-Length: " + strconv.Itoa(len(t.Body)) + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(t.Body)
	return b.Bytes()
}
