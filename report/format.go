package report

import (
	"fmt"
	"io"
	"sort"
)

// Options tune a renderer. The zero value is usable: every renderer fills
// what it needs with defaults.
type Options struct {
	// Scale divides nanosecond values for the formats whose unit is
	// selectable (hgrm, csv); Unit names it ("ms"). Zero means milliseconds.
	Scale float64
	Unit  string
	// Request and Phase narrow the histogram of single-histogram formats
	// (hgrm) to one request name or one phase; empty means all.
	Request, Phase string
}

func (o Options) scale() (float64, string) {
	if o.Scale == 0 {
		return Milliseconds, "ms"
	}
	return o.Scale, o.Unit
}

// Format is one way to render a run.
type Format struct {
	Name        string
	Description string
	// Extension is the usual file name suffix, with the dot.
	Extension string
	Render    func(w io.Writer, run *Run, opts Options) error
}

var formats = map[string]Format{}

// RegisterFormat adds a format; each format's file registers itself in its
// init. A duplicate name is a programming error and panics at start-up.
func RegisterFormat(f Format) {
	if _, dup := formats[f.Name]; dup {
		panic(fmt.Sprintf("report: format %q registered twice", f.Name))
	}
	formats[f.Name] = f
}

// LookupFormat returns the format called name.
func LookupFormat(name string) (Format, bool) {
	f, ok := formats[name]
	return f, ok
}

// FormatNames lists the names of every registered format, sorted.
func FormatNames() []string {
	var names []string
	for _, f := range Formats() {
		names = append(names, f.Name)
	}
	return names
}

// Formats lists every registered format, sorted by name.
func Formats() []Format {
	out := make([]Format, 0, len(formats))
	for _, f := range formats {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
