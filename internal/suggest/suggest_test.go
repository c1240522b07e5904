package suggest

import "testing"

func TestClosest(t *testing.T) {
	t.Parallel()
	known := []string{"duration", "faults", "name", "hypothesis", "steady_state"}
	cases := map[string]string{
		"duraton":     "duration",
		"fault":       "faults",
		"hypothesys":  "hypothesis",
		"steadystate": "steady_state",
		"nmae":        "name",
		"zzzzzz":      "",
		"":            "",
	}
	for in, want := range cases {
		if got := Closest(in, known); got != want {
			t.Errorf("Closest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDistance(t *testing.T) {
	t.Parallel()
	cases := []struct {
		a, b string
		want int
	}{{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"flaw", "lawn", 2}, {"same", "same", 0}}
	for _, c := range cases {
		if got := Distance(c.a, c.b); got != c.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
