package httpfault

import (
	"fmt"
	"regexp"
	"strings"
)

// Pattern matches request paths, as written in a fault: "/api/orders",
// "/api/orders/{id}" ({name} matches one whole, non-empty path segment),
// "/static/{rest...}" (a last {name...} matches the rest of the path,
// however many segments, possibly none). Any other segment matches itself
// exactly. The empty pattern matches every path.
type Pattern struct {
	text     string
	segments []string // literal segments, or anySegment for {name}
	rest     bool     // the last {name...}
}

// anySegment stands for a {name} among the segments: no literal segment
// holds braces.
const anySegment = "{}"

// segmentName is what a {name} may hold.
var segmentName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParsePattern parses a path pattern. A pattern that could never match a
// request's path is an error that says why: one that does not start with
// '/', holds a query, a fragment, a space or an empty segment ("//"),
// braces that do not enclose a whole segment, or a {name...} that is not
// last.
func ParsePattern(s string) (Pattern, error) {
	p := Pattern{text: s}
	if s == "" {
		p.rest = true
		return p, nil
	}
	switch {
	case !strings.HasPrefix(s, "/"):
		return p, fmt.Errorf("path %q: a request's path starts with '/'", s)
	case strings.ContainsAny(s, "?#"):
		return p, fmt.Errorf("path %q: a path holds no query or fragment ('?', '#'); match the path alone", s)
	case strings.ContainsAny(s, " \t\r\n"):
		return p, fmt.Errorf("path %q: a request's path holds no white space", s)
	}
	parts := strings.Split(s[1:], "/")
	for i, seg := range parts {
		last := i == len(parts)-1
		switch {
		case seg == "" && !last:
			return p, fmt.Errorf("path %q: an empty segment (\"//\") never matches a clean path", s)
		case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "...}"):
			if !last {
				return p, fmt.Errorf("path %q: %s must be the last segment", s, seg)
			}
			if !segmentName.MatchString(seg[1 : len(seg)-4]) {
				return p, fmt.Errorf("path %q: %s: want {name...} with a name of letters, digits and '_'", s, seg)
			}
			p.rest = true
		case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}"):
			if !segmentName.MatchString(seg[1 : len(seg)-1]) {
				return p, fmt.Errorf("path %q: %s: want {name} with a name of letters, digits and '_'", s, seg)
			}
			p.segments = append(p.segments, anySegment)
		case strings.ContainsAny(seg, "{}"):
			return p, fmt.Errorf("path %q: segment %q: a {name} stands for a whole segment", s, seg)
		default:
			p.segments = append(p.segments, seg)
		}
	}
	return p, nil
}

// String is the pattern as written.
func (p Pattern) String() string { return p.text }

// Match reports whether path (a request's URL path) matches.
func (p Pattern) Match(path string) bool {
	if p.text == "" {
		return true
	}
	if !strings.HasPrefix(path, "/") {
		return false
	}
	parts := strings.Split(path[1:], "/")
	if len(parts) < len(p.segments) || (!p.rest && len(parts) != len(p.segments)) {
		return false
	}
	for i, want := range p.segments {
		switch {
		case want == anySegment && parts[i] == "":
			return false
		case want != anySegment && parts[i] != want:
			return false
		}
	}
	return true
}
