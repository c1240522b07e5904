package estimate

import (
	"strings"
	"testing"
	"time"
)

func TestParsePoints(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		csv     string
		want    []Point
		wantErr []string
	}{
		{
			name: "concurrency and throughput",
			csv:  "concurrency,throughput\n1,1\n2,1.8868\n4,3.0769\n",
			want: []Point{{1, 1}, {2, 1.8868}, {4, 3.0769}},
		},
		{
			name: "N and X, spaces, comments, blank lines, extra columns",
			csv:  "# measured on staging\nX, N, p99\n\n100, 1, 5\n190, 2, 6\n# a comment\n350, 4, 9\n",
			want: []Point{{1, 100}, {2, 190}, {4, 350}},
		},
		{
			name:    "fewer than three points",
			csv:     "n,x\n1,1\n2,2\n",
			wantErr: []string{"p.csv: 2 points, need at least 3 to fit"},
		},
		{
			name:    "non-numeric cells, each named by line and column",
			csv:     "concurrency,throughput\n1,1\n2,abc\nfour,3\n8,\n",
			wantErr: []string{`p.csv:3: throughput: "abc" is not a number`, `p.csv:4: concurrency: "four" is not a number`, "p.csv:5: throughput: empty cell"},
		},
		{
			name:    "negative and zero values",
			csv:     "n,x\n0,1\n2,-1\n3,3\n",
			wantErr: []string{"p.csv:2: n: want a concurrency above zero", "p.csv:3: x: want a throughput of zero or more"},
		},
		{
			name:    "not a number",
			csv:     "n,x\n1,NaN\n2,Inf\n3,3\n",
			wantErr: []string{`p.csv:2: x: "NaN" is not a number`, `p.csv:3: x: "Inf" is not a number`},
		},
		{
			name:    "wrong number of fields",
			csv:     "n,x\n1,1,1\n2,2\n3,3\n4,4\n",
			wantErr: []string{"p.csv:2: 3 fields, the header has 2"},
		},
		{
			name:    "unknown column",
			csv:     "concurency,throughput\n1,1\n",
			wantErr: []string{`p.csv:1: unknown column "concurency" (did you mean "concurrency"?)`, "p.csv:1: header: want a concurrency column"},
		},
		{
			name: "no header: concurrency then throughput",
			csv:  "1,100\n2,190.5\n4,350\n",
			want: []Point{{1, 100}, {2, 190.5}, {4, 350}},
		},
		{
			name: "tab-separated, with a header",
			csv:  "# from a benchmark script\nthreads\trps\n1\t100\n2\t190\n4\t350\n",
			want: []Point{{1, 100}, {2, 190}, {4, 350}},
		},
		{
			name: "tab-separated, no header",
			csv:  "1\t100\n2\t190\n\n4\t350\n",
			want: []Point{{1, 100}, {2, 190}, {4, 350}},
		},
		{
			name:    "no header, three columns",
			csv:     "1,100,5\n2,190,6\n3,300,7\n",
			wantErr: []string{"p.csv:1: 3 numbers and no header: without a header, want two columns"},
		},
		{
			name:    "no header, a bad cell further down",
			csv:     "1,100\n2,x\n3,300\n",
			wantErr: []string{`p.csv:2: throughput: "x" is not a number`},
		},
		{
			name:    "empty",
			csv:     "",
			wantErr: []string{"p.csv: empty file"},
		},
		{
			name:    "bad quoting",
			csv:     "n,x\n1,\"1\n",
			wantErr: []string{"p.csv:2:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParsePoints("p.csv", strings.NewReader(tt.csv))
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("got %v, want an error", got)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error\n%s\nlacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("point %d = %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestFitReportGolden(t *testing.T) {
	t.Parallel()
	f, err := FitUSL(rUSLData)
	if err != nil {
		t.Fatal(err)
	}
	r := NewFitReport(f, []float64{2, 3, 3.5, 4})
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "fit_usl.txt", []byte(b.String()))
	if r.Predictions[3].Error == "" || r.Predictions[0].Error != "" {
		t.Errorf("predictions = %+v: want the one above the peak (4 > 3.57) refused", r.Predictions)
	}
}

func TestParseThroughputs(t *testing.T) {
	t.Parallel()
	got, err := ParseThroughputs("100, 2k/s,60/min")
	if err != nil || len(got) != 3 || got[0] != 100 || got[1] != 2000 || got[2] != 1 {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, bad := range []string{"abc", "0", "-5/s", " , "} {
		if _, err := ParseThroughputs(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestFitReportPrintsLatencyAsDuration: predictions printed
// "R (time unit of X) 0.0016" (issue 10). Throughputs are per second (--at
// reads 60/min as 1), so R is in seconds and prints as a duration.
func TestFitReportPrintsLatencyAsDuration(t *testing.T) {
	t.Parallel()
	var points []Point
	for _, n := range []float64{1, 2, 4, 8, 16, 32} {
		points = append(points, Point{N: n, X: 1000 * n / (1 + 0.02*(n-1) + 0.0005*n*(n-1))})
	}
	f, err := FitUSL(points)
	if err != nil {
		t.Fatal(err)
	}
	r := NewFitReport(f, []float64{2000})
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	want := HumanDuration(time.Duration(r.Predictions[0].Latency * float64(time.Second)))
	var row []string
	for _, line := range strings.Split(text, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == sig(2000) {
			row = f
		}
	}
	if row == nil || row[1] != want || !strings.HasSuffix(want, "ms") {
		t.Errorf("the prediction at 2000/s should print R as a duration (%s), got %q:\n%s", want, row, text)
	}
}

func TestSigIsPlain(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		v    float64
		want string
	}{
		{11670.3, "11,670"},
		{36440, "36,440"},
		{1234.4, "1,234"},
		{875.3, "875.3"},
		{0.02001, "0.02001"},
		{0.0001234, "0.0001234"},
		{3.526e-06, "3.526e-06"},
		{-45.74, "-45.74"},
		{2.5e9, "2,500,000,000"},
	} {
		if got := sig(tt.v); got != tt.want {
			t.Errorf("sig(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}
