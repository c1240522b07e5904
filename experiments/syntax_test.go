package experiments

import (
	"errors"
	"strings"
	"testing"
)

// TestSyntaxErrorPlaces checks that YAML syntax and encoding errors name the
// line and column of the character at fault (yaml.v3 alone gives the
// enclosing construct's line, sometimes one early, and no column).
func TestSyntaxErrorPlaces(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, src string
		want      Pos
		msg       string
	}{
		{"unclosed flow list", "name: x\ntags: [a, b\nload: x\n", Pos{2, 7}, "did not find expected ',' or ']'"},
		{"extra bracket", "name: x\ntags: [a, b]]\n", Pos{2, 13}, "did not find expected key"},
		{"over-indented key", "name: x\nload:\n  rate: 1/s\n   requests: x\n", Pos{4, 4}, "mapping values are not allowed"},
		{"under-indented key", "name: x\nload:\n  requests:\n  - url: a\n    method: GET\n   name: q\n", Pos{6, 4}, "did not find expected key"},
		{"tab indent", "name: x\nload:\n\trate: 1/s\n", Pos{3, 1}, "cannot start any token"},
		{"reserved character", "name: x\ndescription: @foo\n", Pos{2, 14}, "cannot start any token"},
		{"unterminated quote", "name: x\ndescription: \"abc\nload: x\n", Pos{2, 14}, "unexpected end of stream"},
		{"list in a mapping", "name: x\n- a\n", Pos{2, 1}, "did not find expected key"},
		{"unknown anchor", "name: x\ntags: [a, *nope]\n", Pos{2, 11}, "unknown anchor 'nope'"},
		{"not UTF-8", "name: x\ndescription: ab\xff\n", Pos{2, 16}, "UTF-8"},
		{"control character", "name: x\ndescription: a\x01b\n", Pos{2, 15}, "control characters"},
		{"second document", "name: x\n---\nname: y\n", Pos{2, 1}, "a second YAML document"},
		{"error in second document", "name: x\n---\nname: [y\n", Pos{3, 7}, "did not find expected"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(c.src), "x.yaml", Options{})
			var ps Problems
			if !errors.As(err, &ps) || len(ps) != 1 {
				t.Fatalf("error %v, want one problem", err)
			}
			if ps[0].Pos != c.want || !strings.Contains(ps[0].Msg, c.msg) {
				t.Errorf("got %v, want x.yaml:%d:%d: ...%s...", ps[0], c.want.Line, c.want.Column, c.msg)
			}
		})
	}
}
