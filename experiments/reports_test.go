package experiments

import (
	"os"
	"strings"
	"testing"
)

// TestDefaultReportFormats: a user's own experiment that names no formats
// gets the HTML report too (issue 10: it got only JUnit, Markdown and the
// interval log, nothing to open), and the docs say so.
func TestDefaultReportFormats(t *testing.T) {
	t.Parallel()
	want := []string{"junit", "markdown", "hlog", "html"}
	if strings.Join(defaultFormats, ",") != strings.Join(want, ",") {
		t.Errorf("default formats %v, want %v", defaultFormats, want)
	}
	doc, err := os.ReadFile("../docs/experiments.md")
	if err != nil {
		t.Fatal(err)
	}
	row := "`[" + strings.Join(defaultFormats, ", ") + "]`"
	if !strings.Contains(string(doc), row) {
		t.Errorf("docs/experiments.md does not give the default formats as %s", row)
	}
}
