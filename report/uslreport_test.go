package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/estimate"
)

func TestWriteUSLHTML(t *testing.T) {
	t.Parallel()
	// The R usl package's data: sigma = kappa = 0.02, lambda = 1.
	var pts []estimate.Point
	for i, n := range []float64{1, 2, 4, 6, 8, 10} {
		pts = append(pts, estimate.Point{N: n, X: []float64{1, 1.8868, 3.0769, 3.5294, 3.5398, 3.3557}[i]})
	}
	fit, err := estimate.FitUSL(pts)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteUSLHTML(&buf, "fit <test>", "TABLE & NOTES", PointsOf(fit), fit); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{"<svg", "fit &lt;test&gt;", "TABLE &amp; NOTES", "N* = 7"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "http") {
		t.Error("the page names a URL: it must be self-contained")
	}
	if n := strings.Count(page, "<circle") + strings.Count(page, "<path"); n < 7 {
		t.Errorf("only %d drawn shapes: want the six points and the curve", n)
	}
}
