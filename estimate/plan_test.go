package estimate

import (
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file (rerun with -update if intended)\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

func near(t *testing.T, what string, got, want, relTol float64) {
	t.Helper()
	if math.Abs(got-want) > relTol*math.Abs(want) {
		t.Errorf("%s = %v, want %v (±%g%%)", what, got, want, relTol*100)
	}
}

// TestClassicExample works the classic example through and checks every
// figure the issue quotes.
func TestClassicExample(t *testing.T) {
	t.Parallel()
	p, err := LoadPlan("../examples/estimate/classic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := Compute(p)
	tests := []struct {
		key     string
		want    float64
		rounded string
	}{
		// 10 M daily users × 20 requests = 200 M requests a day.
		{"requests_per_day", 200e6, "200 M req/day"},
		// About 2,315 req/s on average (200 M / 86,400 = 2,314.81).
		{"average_rps", 200e6 / 86400, "2.3 k req/s"},
		// About 7,000 req/s at a 3x peak.
		{"peak_rps", 3 * 200e6 / 86400, "6.9 k req/s"},
		// 180 M daily reads (90%).
		{"reads_per_day", 180e6, "180 M reads/day"},
		{"writes_per_day", 20e6, "20 M writes/day"},
		// 1 M new 1 KB records a day = 1 GB a day, 365 GB a year.
		{"storage_per_day", 1e9, "1 GB/day"},
		{"storage_per_year", 365e9, "365 GB/year"},
		// About 5.5 TB over 5 years with replication 3.
		{"storage_retention", 1825e9, "1.8 TB"},
		{"storage_retention_replicated", 5.475e12, "5.5 TB"},
		// 20% of 180 M reads cached at 1 KB each = 36 GB.
		{"cache_memory", 36e9, "36 GB"},
		// Little's law at 50 ms.
		{"in_flight_average", 200e6 / 86400 * 0.05, "116 requests"},
		{"in_flight_peak", 3 * 200e6 / 86400 * 0.05, "347 requests"},
		// ceil(6,944.44 / (500 × 0.7)) + 1 = 20 + 1.
		{"instances", 21, "21 instances (N+1)"},
		{"ingress_peak", 3 * 200e6 / 86400 * 1000, "6.9 MB/s"},
		// 1 GB of new data a day comes in at about 12 kB/s; 9 reads per
		// write send 9 times that out.
		{"incoming_data", 1e9 / 86400, "12 kB/s"},
		{"outgoing_data", 9 * 1e9 / 86400, "104 kB/s"},
	}
	for _, tt := range tests {
		l, ok := e.Line(tt.key)
		if !ok {
			t.Errorf("no line %q", tt.key)
			continue
		}
		near(t, tt.key, l.Value, tt.want, 1e-12)
		if l.Rounded != tt.rounded {
			t.Errorf("%s rounded = %q, want %q", tt.key, l.Rounded, tt.rounded)
		}
	}
	if l, _ := e.Line("average_rps"); math.Round(l.Value) != 2315 {
		t.Errorf("average req/s rounds to %v, want about 2,315", math.Round(l.Value))
	}
	if l, _ := e.Line("average_rps"); l.Arithmetic != "200,000,000 / 86,400" {
		t.Errorf("average req/s arithmetic = %q", l.Arithmetic)
	}
	if l, _ := e.Line("instances"); l.Arithmetic != "ceil(6,944.44 / (500 × 0.7)) + 1 = ceil(19.84) + 1" {
		t.Errorf("instances arithmetic = %q", l.Arithmetic)
	}
	if l, _ := e.Line("ingress_peak"); l.Also == nil || l.Also.Unit != "bit/s" || l.Also.Value != l.Value*8 {
		t.Errorf("ingress peak in bit/s = %+v, want 8 × %v", l.Also, l.Value)
	}
	for _, s := range e.Sections {
		if s.Skipped != "" {
			t.Errorf("section %s skipped in the full example: %s", s.Title, s.Skipped)
		}
	}
}

func TestEstimateGolden(t *testing.T) {
	t.Parallel()
	p, err := LoadPlan("../examples/estimate/classic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Origins name the file as given; keep them stable for the golden file.
	e := Compute(p)
	var text strings.Builder
	if err := e.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	golden(t, "classic.txt", []byte(text.String()))
	var js strings.Builder
	if err := WriteJSON(&js, e); err != nil {
		t.Fatal(err)
	}
	golden(t, "classic.json", []byte(js.String()))
}

func TestPartialPlan(t *testing.T) {
	t.Parallel()
	p, err := DecodePlan("p.yaml", []byte("daily_active_users: 1M\nrequests_per_user: 10/day\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(""); err != nil {
		t.Fatal(err)
	}
	e := Compute(p)
	l, _ := e.Line("peak_rps")
	if !strings.Contains(l.Note, "peak is taken to be the average") {
		t.Errorf("peak note = %q, want the default said out loud", l.Note)
	}
	skipped := map[string]string{}
	for _, s := range e.Sections {
		skipped[s.Title] = s.Skipped
	}
	for title, want := range map[string]string{
		"traffic":   "",
		"storage":   "needs new_records and record_size",
		"bandwidth": "request_size or response_size, or new_records and record_size",
		"cache":     "cache_share",
		"instances": "instance_capacity",
	} {
		if got := skipped[title]; want == "" && got != "" || !strings.Contains(got, want) {
			t.Errorf("section %s skipped = %q, want %q", title, got, want)
		}
	}
}

func TestDecodePlanErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want []string // each must appear, in this order
	}{
		{
			name: "unknown field with suggestion",
			yaml: "daily_active_users: 10M\nrequest_per_user: 20/day\n",
			want: []string{`p.yaml:2:1: unknown field "request_per_user" (did you mean "requests_per_user"?)`},
		},
		{
			name: "unknown field without suggestion",
			yaml: "colour: blue\n",
			want: []string{`p.yaml:1:1: unknown field "colour"`},
		},
		{
			name: "missing unit",
			yaml: "daily_active_users: 10M\nrecord_size: 1000\n",
			want: []string{`p.yaml:2:14: record_size: "1000": missing unit`},
		},
		{
			name: "negative count",
			yaml: "daily_active_users: -10\n",
			want: []string{`p.yaml:1:21: daily_active_users: "-10": a count cannot be negative`},
		},
		{
			name: "every problem at once, in file order",
			yaml: "record_size: 1000\nlatency: 50\nfoo: 1\npeak_factor: 0.5x\n",
			want: []string{
				`p.yaml:1:14: record_size: "1000": missing unit`,
				`p.yaml:2:10: latency: "50": missing unit`,
				`p.yaml:3:1: unknown field "foo"`,
				`p.yaml:4:14: peak_factor: "0.5x": a peak factor is at least 1x`,
			},
		},
		{
			name: "every value problem at once, in file order",
			yaml: "record_size: 1000\nlatency: 50\npeak_factor: 0.5x\ncache_share: 20\n",
			want: []string{
				"p.yaml:1:14: record_size:",
				"p.yaml:2:10: latency:",
				"p.yaml:3:14: peak_factor:",
				"p.yaml:4:14: cache_share:",
			},
		},
		{
			name: "repeated field",
			yaml: "latency: 5ms\nlatency: 6ms\n",
			want: []string{"p.yaml:2:1: latency: repeated field (first given at line 1)"},
		},
		{
			name: "not a scalar",
			yaml: "latency: [5ms]\n",
			want: []string{"p.yaml:1:10: latency: want a single value such as 50ms"},
		},
		{
			name: "empty value",
			yaml: "latency:\n",
			want: []string{"p.yaml:1:9: latency: want a single value"},
		},
		{
			name: "not a mapping",
			yaml: "- a\n- b\n",
			want: []string{"p.yaml:1:1: want a mapping"},
		},
		{
			name: "empty",
			yaml: "",
			want: []string{"p.yaml: empty plan"},
		},
		{
			name: "syntax error",
			yaml: "a: b\n c: d\n",
			want: []string{"p.yaml:2: "},
		},
		{
			name: "utilisation of zero",
			yaml: "target_utilisation: 0%\n",
			want: []string{`p.yaml:1:21: target_utilisation: "0%": target utilisation must be above 0%`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := DecodePlan("p.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			rest := msg
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error\n%s\nlacks (in order) %q", msg, w)
				}
				rest = rest[i+len(w):]
			}
			if n := strings.Count(msg, "\n") + 1; n != len(tt.want) {
				t.Errorf("error has %d lines, want %d:\n%s", n, len(tt.want), msg)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	capFile := filepath.Join(dir, "capacity.json")
	if err := os.WriteFile(capFile, []byte(`{"capacity": {"per_instance": 812.5, "unit": "req/s", "basis": "X(N*) of the USL fit"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "empty.json"), []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	base := "daily_active_users: 10M\nrequests_per_user: 20/day\n"
	tests := []struct {
		name    string
		yaml    string
		wantErr string
		check   func(t *testing.T, p *Plan)
	}{
		{name: "both utilisation and headroom", yaml: base + "target_utilisation: 70%\nheadroom: 30%\n",
			wantErr: "p.yaml:4:11: headroom: give target_utilisation or headroom, not both"},
		{name: "both capacities", yaml: base + "instance_capacity: 5/s\ninstance_capacity_from: capacity.json\n",
			wantErr: "not both"},
		{name: "nothing to estimate", yaml: "latency: 5ms\n", wantErr: "nothing to estimate"},
		{name: "missing capacity file", yaml: base + "instance_capacity_from: nope.json\n", wantErr: "p.yaml:3:25: instance_capacity_from: read capacity:"},
		{name: "capacity file without capacity", yaml: base + "instance_capacity_from: empty.json\n", wantErr: "has no per-instance capacity"},
		{name: "capacity from file", yaml: base + "instance_capacity_from: capacity.json\nheadroom: 20%\n",
			check: func(t *testing.T, p *Plan) {
				l, ok := Compute(p).Line("instances")
				if !ok {
					t.Fatal("no instances line")
				}
				// 2,314.81 / (812.5 × 0.8) = 3.56 -> 4.
				if l.Value != 4 {
					t.Errorf("instances = %v, want 4", l.Value)
				}
				if !strings.Contains(l.Note, "X(N*) of the USL fit from capacity.json") || !strings.Contains(l.Note, "1 - headroom") {
					t.Errorf("note = %q", l.Note)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := DecodePlan("p.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			err = p.Validate(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, p)
		})
	}
}

// TestFlagsOverride checks that Set, which the flags use, overrides a value
// from the file and that later problems name the flag.
func TestFlagsOverride(t *testing.T) {
	t.Parallel()
	p, err := DecodePlan("p.yaml", []byte("daily_active_users: 10M\nrequests_per_user: 20/day\ntarget_utilisation: 70%\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Set("daily_active_users", "20M", "--daily-active-users"); err != nil {
		t.Fatal(err)
	}
	if err := p.Set("headroom", "10%", "--headroom"); err != nil {
		t.Fatal(err)
	}
	err = p.Validate("")
	if err == nil || !strings.HasPrefix(err.Error(), "--headroom: give target_utilisation or headroom") {
		t.Fatalf("got %v, want a problem naming --headroom", err)
	}
	if p.DailyActiveUsers != 20e6 || p.Text("daily_active_users") != "20M" {
		t.Errorf("daily active users = %v (%q), want the flag's 20M", p.DailyActiveUsers, p.Text("daily_active_users"))
	}
	if err := p.Set("nope", "1", "--nope"); err == nil {
		t.Error("Set accepted an unknown field")
	}
}

// TestFieldsMatchSchema keeps the field table and the YAML schema in step.
func TestFieldsMatchSchema(t *testing.T) {
	t.Parallel()
	tags := schemaTags(planYAML{})
	names := fieldNames()
	if strings.Join(tags, ",") != strings.Join(names, ",") {
		t.Fatalf("schema fields %v\n   table fields %v", tags, names)
	}
	for _, f := range Fields() {
		if f.Kind == "" || f.Usage == "" || f.Flag != strings.ReplaceAll(f.Name, "_", "-") {
			t.Errorf("field %+v lacks a kind, usage or flag", f)
		}
		// The example in the usage line is quoted in error messages, so it
		// must be a value the field accepts.
		if ex := example(f.Name); f.Kind != "text" && f.set(&Plan{}, ex) != nil {
			t.Errorf("field %s: its example %q does not parse: %v", f.Name, ex, f.set(&Plan{}, ex))
		}
	}
}

// schemaTags lists the yaml tags of the schema, in order.
func schemaTags(raw planYAML) []string {
	rt := reflect.TypeOf(raw)
	tags := make([]string, rt.NumField())
	for i := range tags {
		tags[i] = rt.Field(i).Tag.Get("yaml")
	}
	return tags
}

// TestDataBandwidth is the seed's bandwidth estimate, made from the data
// rather than the requests: 1 GB of new data a day comes in at about
// 12 KB/s, and at 10 reads to each write about ten times that goes out,
// about 120 KB/s. Traffic inputs are not needed.
func TestDataBandwidth(t *testing.T) {
	t.Parallel()
	p, err := DecodePlan("p.yaml", []byte("new_records: 1M/day\nrecord_size: 1KB\nread_write_ratio: \"10:1\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(""); err != nil {
		t.Fatal(err)
	}
	e := Compute(p)
	tests := []struct {
		key        string
		want       float64
		rounded    string
		arithmetic string
	}{
		{"incoming_data", 1e9 / 86400, "12 kB/s", "1,000,000,000 B / 86,400"},
		{"outgoing_data", 1e9 / 86400 * 10, "116 kB/s", "11,574.07 B/s × 10"},
	}
	for _, tt := range tests {
		l, ok := e.Line(tt.key)
		if !ok {
			t.Fatalf("no line %q in %+v", tt.key, e.Sections)
		}
		near(t, tt.key, l.Value, tt.want, 1e-12)
		if l.Rounded != tt.rounded || l.Arithmetic != tt.arithmetic || l.Also == nil || l.Also.Unit != "bit/s" {
			t.Errorf("%s: rounded %q, arithmetic %q, also %+v; want %q, %q and bit/s", tt.key, l.Rounded, l.Arithmetic, l.Also, tt.rounded, tt.arithmetic)
		}
	}
	if _, ok := e.Line("ingress_average"); ok {
		t.Error("a request-based line without request inputs")
	}
	// Without a read:write ratio there is nothing to multiply by.
	p, _ = DecodePlan("p.yaml", []byte("new_records: 1M/day\nrecord_size: 1KB\n"))
	if e := Compute(p); func() bool { _, ok := e.Line("outgoing_data"); return ok }() {
		t.Error("outgoing data without a read:write ratio")
	}
}
