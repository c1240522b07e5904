package estimate

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// errWriter remembers the first write error so that renderers can print
// freely and check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// WriteText writes the estimate as a table a reader can check line by line:
// each output with its formula, the arithmetic, the exact and rounded value.
func (e *Estimate) WriteText(w io.Writer) error {
	out := &errWriter{w: w}
	if e.Name != "" {
		out.printf("%s\n", e.Name)
	}
	if e.Description != "" {
		out.printf("%s\n", e.Description)
	}
	if e.Name != "" || e.Description != "" {
		out.printf("\n")
	}
	out.printf("INPUTS\n")
	tw := tabwriter.NewWriter(out.w, 0, 0, 2, ' ', 0)
	for _, in := range e.Inputs {
		if out.err == nil {
			_, out.err = fmt.Fprintf(tw, "  %s\t%s\t= %s\n", in.Field, in.Text, in.Value)
		}
	}
	if err := tw.Flush(); err != nil && out.err == nil {
		out.err = err
	}
	for _, s := range e.Sections {
		out.printf("\n%s\n", strings.ToUpper(s.Title))
		if s.Skipped != "" {
			out.printf("  skipped: %s\n", s.Skipped)
			continue
		}
		for i, l := range s.Lines {
			if i > 0 {
				out.printf("\n")
			}
			writeLine(out, l)
		}
	}
	return out.err
}

func writeLine(out *errWriter, l Line) {
	indent := strings.Repeat(" ", 2+len([]rune(l.Label))+1)
	out.printf("  %s = %s\n", l.Label, l.Formula)
	out.printf("%s= %s\n", indent, l.Arithmetic)
	result := fmt.Sprintf("%s %s", Num(l.Value), l.Unit)
	if l.Unit == "instances" {
		out.printf("%s= %s\n", indent, l.Rounded)
	} else {
		out.printf("%s= %s ≈ %s\n", indent, result, l.Rounded)
	}
	if l.Also != nil {
		out.printf("%s= %s %s ≈ %s (× 8 bit/B)\n", indent, Num(l.Also.Value), l.Also.Unit, l.Also.Rounded)
	}
	if l.Note != "" {
		out.printf("%s(%s)\n", indent, l.Note)
	}
}
