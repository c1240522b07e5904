package estimate

import (
	"math"
	"os"
	"strings"
	"testing"
)

func FuzzDecodePlan(f *testing.F) {
	classic, err := os.ReadFile("../examples/estimate/classic.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(classic)
	f.Add([]byte("daily_active_users: 10M\nrequests_per_user: 20/day\npeak_factor: 3x\n"))
	f.Add([]byte("new_records: 1M/day\nrecord_size: 1KiB\nretention: 90d\nreplication: 3x\n"))
	f.Add([]byte("record_size: 1000\nfoo: bar\n"))
	f.Add([]byte("- a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodePlan("f.yaml", data)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "f.yaml") {
					t.Fatalf("problem line %q does not name the file", line)
				}
			}
			return
		}
		if err := p.Validate(t.TempDir()); err != nil {
			return
		}
		e := Compute(p)
		for _, s := range e.Sections {
			for _, l := range s.Lines {
				if math.IsNaN(l.Value) || l.Value < 0 {
					t.Fatalf("line %s = %v from\n%s", l.Key, l.Value, data)
				}
				if l.Formula == "" || l.Arithmetic == "" || l.Rounded == "" {
					t.Fatalf("line %s lacks its formula, arithmetic or rounding", l.Key)
				}
			}
		}
		if err := e.WriteText(&strings.Builder{}); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzParsePoints(f *testing.F) {
	f.Add("concurrency,throughput\n1,1\n2,1.8868\n4,3.0769\n")
	f.Add("N,X\n1,100\n2,190\n4,350\n8,500\n")
	f.Add("n,x,p99\n1,1,5ms\n")
	f.Add("n,x\n1,abc\n-2,3\n")
	f.Add("n,x\n\"1\n")
	f.Fuzz(func(t *testing.T, data string) {
		pts, err := ParsePoints("f.csv", strings.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.csv") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if len(pts) < MinFitPoints {
			t.Fatalf("%d points accepted", len(pts))
		}
		for _, p := range pts {
			if !(p.N > 0) || !(p.X >= 0) || math.IsInf(p.N, 0) || math.IsInf(p.X, 0) {
				t.Fatalf("bad point accepted: %+v", p)
			}
		}
		// The fit must not panic on whatever the parser accepts.
		if fit, err := FitUSL(pts); err == nil && (math.IsNaN(fit.Sigma.Value) || math.IsNaN(fit.Lambda.Value)) {
			t.Fatalf("fit gave NaN: %+v", fit)
		}
	})
}
