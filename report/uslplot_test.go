package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/estimate"
)

func TestUSLPlot(t *testing.T) {
	t.Parallel()
	rData := [][2]float64{{1, 1}, {2, 1.8868}, {4, 3.0769}, {6, 3.5294}, {8, 3.5398}, {10, 3.3557}}
	// σ = 0.001, κ = 1e-6: N* ≈ 1000, far beyond the 4 to 64 measured.
	var farPeak [][2]float64
	for _, n := range []float64{1, 2, 4, 8, 16, 32, 64} {
		farPeak = append(farPeak, [2]float64{n, estimate.USLThroughput(0.001, 1e-6, 10, n)})
	}
	tests := []struct {
		name     string
		points   [][2]float64
		fit      bool
		wantText []string
		noText   []string
	}{
		{name: "fit with its peak", points: rData, fit: true,
			wantText: []string{"N* = 7, X(N*) = 3.571", "USL fit: σ=0.02", "measured", "concurrency N", "throughput X"}},
		{name: "points alone", points: rData,
			wantText: []string{"measured"}, noText: []string{"N*", "USL fit"}},
		{name: "peak far beyond the measurements is not drawn", points: farPeak, fit: true,
			wantText: []string{"USL fit"}, noText: []string{"N* ="}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var fit *estimate.USLFit
			if tt.fit {
				pts := make([]estimate.Point, len(tt.points))
				for i, p := range tt.points {
					pts[i] = estimate.Point{N: p[0], X: p[1]}
				}
				var err error
				if fit, err = estimate.FitUSL(pts); err != nil {
					t.Fatal(err)
				}
			}
			var b bytes.Buffer
			if err := uSLPlotSVG(tt.points, fit, &b); err != nil {
				t.Fatal(err)
			}
			svg := b.String()
			if !strings.Contains(svg, "<svg") || !strings.HasSuffix(strings.TrimSpace(svg), "</svg>") {
				t.Fatalf("not an SVG document:\n%.300s", svg)
			}
			// Every measured point is one glyph in the points' colour, and
			// the legend shows one more.
			if got, want := strings.Count(svg, "fill:#D62728"), len(tt.points)+1; got != want {
				t.Errorf("%d glyphs in the points' colour, want %d (the points and the legend)", got, want)
			}
			for _, w := range tt.wantText {
				if !strings.Contains(svg, w) {
					t.Errorf("SVG lacks %q", w)
				}
			}
			for _, w := range tt.noText {
				if strings.Contains(svg, w) {
					t.Errorf("SVG has %q", w)
				}
			}
		})
	}
	if err := uSLPlotSVG(nil, nil, &bytes.Buffer{}); err == nil {
		t.Error("no points: no error")
	}
}
