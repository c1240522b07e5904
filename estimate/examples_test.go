package estimate

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestExamples loads every plan in examples/estimate: each must decode,
// validate and compute without a skipped section it asks for.
func TestExamples(t *testing.T) {
	t.Parallel()
	plans, err := filepath.Glob("../examples/estimate/*.yaml")
	if err != nil || len(plans) < 2 {
		t.Fatalf("found %v (%v), want the example plans", plans, err)
	}
	for _, path := range plans {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			p, err := LoadPlan(path)
			if err != nil {
				t.Fatal(err)
			}
			e := Compute(p)
			if _, ok := e.Line("instances"); !ok {
				t.Error("no instance count")
			}
			if err := e.WriteText(&bytes.Buffer{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestMeasuredExample checks that capacity.json is the fit of points.csv
// (rewritten with -update) and that the measured plan counts instances
// from it: ceil(27,777.78 / (6,531.2 × 0.6)) + 2 = 8 + 2.
func TestMeasuredExample(t *testing.T) {
	t.Parallel()
	f, err := os.Open("../examples/estimate/points.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pts, err := ParsePoints("points.csv", f)
	if err != nil {
		t.Fatal(err)
	}
	fit, err := FitUSL(pts)
	if err != nil {
		t.Fatal(err)
	}
	report := NewFitReport(fit, nil)
	capPath := "../examples/estimate/capacity.json"
	if *update {
		var b bytes.Buffer
		if err := WriteJSON(&b, report); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(capPath, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(capPath)
	if err != nil {
		t.Fatal(err)
	}
	var stored FitReport
	if err := json.Unmarshal(data, &stored); err != nil {
		t.Fatal(err)
	}
	if math.Abs(stored.Capacity.PerInstance-report.Capacity.PerInstance) > 1e-9*report.Capacity.PerInstance ||
		math.Abs(stored.Fit.Kappa.Value-fit.Kappa.Value) > 1e-6*fit.Kappa.Value {
		t.Fatalf("capacity.json is stale: %+v, fit gives %+v (rerun with -update)", stored.Capacity, report.Capacity)
	}

	p, err := LoadPlan("../examples/estimate/measured.yaml")
	if err != nil {
		t.Fatal(err)
	}
	l, _ := Compute(p).Line("instances")
	if l.Value != 10 {
		t.Errorf("instances = %v (%s), want 10", l.Value, l.Arithmetic)
	}
}
