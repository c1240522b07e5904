package chaos

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/faultline-dev/faultline/internal/exitcode"
)

func TestSpecValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		spec Spec
		want []string // one substring per expected error; none means valid
		// field is the field the first error names, if any.
		field string
	}{
		{"latency", Spec{Kind: "latency", Proxy: "db", Latency: 200 * time.Millisecond, Jitter: 20 * time.Millisecond}, nil, ""},
		{"unknown kind lists the valid ones", Spec{Kind: "latensy"}, []string{`unknown fault kind "latensy" (did you mean latency?): valid kinds are ` + strings.Join(Kinds(), ", ")}, ""},
		{"missing kind", Spec{}, []string{"fault kind is missing"}, ""},
		{"every problem at once", Spec{Kind: "latency", Latency: 1500 * time.Microsecond, Stream: "sideways", Toxicity: ptr(2.0)}, []string{
			"proxy is required", "stream \"sideways\"", "toxicity 2", "whole number of milliseconds",
		}, "proxy"},
		{"a field of another kind", Spec{Kind: "latency", Proxy: "db", Latency: time.Second, Rate: 1000}, []string{"field rate not found"}, ""},
		{"listen without upstream", Spec{Kind: "down", Proxy: "db", Listen: "127.0.0.1:0"}, []string{"listen needs upstream"}, "listen"},
		{"bad proxy name", Spec{Kind: "down", Proxy: "a/b"}, []string{"proxy name"}, "proxy"},
		{"bandwidth in whole KB/s", Spec{Kind: "bandwidth", Proxy: "db", Rate: 1500}, []string{"whole number of KB/s"}, "rate"},
		{"jitter above latency", Spec{Kind: "latency", Proxy: "db", Latency: time.Millisecond, Jitter: time.Second}, []string{"larger than latency"}, "jitter"},
		{"slicer", Spec{Kind: "slicer", Proxy: "db", AverageSize: 10, SizeVariation: 20}, []string{"smaller than average_size"}, "size_variation"},
		{"limit_data needs bytes", Spec{Kind: "limit_data", Proxy: "db"}, []string{"bytes is required"}, "bytes"},
		{"timeout zero is valid", Spec{Kind: "timeout", Proxy: "db", Timeout: ptr(time.Duration(0))}, nil, ""},
		{"kill by label", Spec{Kind: "kill", Labels: map[string]string{"faultline.service": "catalog"}, Selection: Selection{Mode: ModeOne}}, nil, ""},
		{"kill needs a selector", Spec{Kind: "kill"}, []string{"select containers"}, ""},
		{"kill bad regex and signal", Spec{Kind: "kill", Names: []string{"re2:("}, Signal: "SIGFOO"}, []string{"names:", "unknown signal"}, "names"},
		{"two regexes", Spec{Kind: "pause", Names: []string{"re2:a", "re2:b"}}, []string{"at most one re2"}, "names"},
		{"pause has no signal", Spec{Kind: "pause", Names: []string{"x"}, Signal: "SIGKILL"}, []string{"field signal not found"}, ""},
		{"stop with bad mode", Spec{Kind: "stop", Names: []string{"x"}, Selection: Selection{Mode: ModePercent, Value: 0}}, []string{"mode percent"}, "value"},
		{"signal needs a pid", Spec{Kind: "signal"}, []string{"pid or pidfile"}, ""},
		{"signal pid and pidfile", Spec{Kind: "signal", PID: 1, Pidfile: "x"}, []string{"not both"}, "pidfile"},
		{"signal lowercase name", Spec{Kind: "signal", PID: 12, Signal: "stop"}, nil, ""},
		{"crash needs a service", Spec{Kind: "crash"}, []string{"service is required"}, "service"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			errs := tc.spec.Validate()
			if len(errs) != len(tc.want) {
				t.Fatalf("Validate = %v; want %d errors", errs, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want it to contain %q", i, errs[i], w)
				}
			}
			var fe *FieldError
			if tc.field != "" && (!errors.As(errs[0], &fe) || fe.Field != tc.field) {
				t.Errorf("error %q names field %v, want %s", errs[0], fe, tc.field)
			}
			_, err := New(tc.spec)
			if (err != nil) != (len(tc.want) > 0) {
				t.Fatalf("New = %v", err)
			}
			decodes := !strings.Contains(tc.name, "has no") && !strings.Contains(tc.name, "another kind")
			if err != nil && decodes && exitcode.Of(err) != exitcode.Usage {
				t.Fatalf("New error has exit code %d, want %d", exitcode.Of(err), exitcode.Usage)
			}
		})
	}
}

// TestSpecDecodesFromYAML decodes the faults of an experiment-like file
// strictly into their kinds' structs, as the experiment loader does.
func TestSpecDecodesFromYAML(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("testdata", "faults.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Faults []yaml.Node `yaml:"faults"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var faults []Fault
	for i := range doc.Faults {
		f, err := decodeFault(&doc.Faults[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := Check(f); err != nil {
			t.Fatal(err)
		}
		faults = append(faults, f)
	}
	if len(faults) != 6 {
		t.Fatalf("decoded %d faults, want 6", len(faults))
	}
	lat := faults[0].(*toxicFault[latencyToxic])
	if lat.Attrs.Latency != 200*time.Millisecond || lat.Attrs.Jitter != 20*time.Millisecond || *lat.Toxic.Toxicity != 0.5 || lat.Toxic.Stream != "upstream" {
		t.Errorf("latency decoded as %+v", lat)
	}
	if bw := faults[1].(*toxicFault[bandwidthToxic]); bw.Attrs.Rate != 100_000 {
		t.Errorf("rate decoded as %d", bw.Attrs.Rate)
	}
	if s := faults[2].(*toxicFault[slicerToxic]).Attrs; s.AverageSize != 64 || s.SizeVariation != 16 || s.Delay != 10*time.Microsecond {
		t.Errorf("slicer decoded as %+v", s)
	}
	kill := faults[3].(*containerFault[killAction])
	if kill.Target.Labels["faultline.service"] != "catalog" || kill.Target.Mode != ModePercent || kill.Target.Value != 50 || *kill.Target.Seed != 42 || kill.Action.Signal != "SIGTERM" {
		t.Errorf("kill decoded as %+v", kill)
	}
	stop := faults[4].(*containerFault[graceAction])
	if stop.Action.Timeout != 5*time.Second || *stop.Revert.Restore || stop.Target.Names[1] != "re2:^shop-" {
		t.Errorf("stop decoded as %+v", stop)
	}
	// Copy is deep: changing the copy leaves the original.
	c, err := Copy(stop)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, stop) {
		t.Errorf("Copy = %+v, want %+v", c, stop)
	}
	c.(*containerFault[graceAction]).Target.Names[0] = "changed"
	if stop.Target.Names[0] != "shop-db" {
		t.Errorf("Copy shares the names list")
	}

	bad := yaml.Node{}
	if err := yaml.Unmarshal([]byte("kind: latency\nproxy: db\nlatency: 200ms\nlatencyy: 1s\n"), &bad); err != nil {
		t.Fatal(err)
	}
	if _, err := decodeFault(bad.Content[0]); err == nil || !strings.Contains(err.Error(), "latencyy") {
		t.Fatalf("an unknown field decoded: %v", err)
	}
}

// TestKindFields checks what every kind's struct says of its fields: a
// doc for each, flags that do not collide, and Set parsing values as YAML
// does.
func TestKindFields(t *testing.T) {
	t.Parallel()
	if len(Kinds()) < 10 {
		t.Fatalf("Kinds = %v", Kinds())
	}
	for _, name := range Kinds() {
		info, ok := DescribeKind(name)
		if !ok || info.Summary == "" || info.Group == "" {
			t.Errorf("%s: described as %+v", name, info)
		}
		flags := map[string]bool{}
		for _, f := range info.Fields {
			if flags[f.Flag] {
				t.Errorf("%s: flag --%s twice", name, f.Flag)
			}
			flags[f.Flag] = true
		}
	}
	f, err := NewFault("kill")
	if err != nil {
		t.Fatal(err)
	}
	info, _ := DescribeKind("kill")
	set := map[string][]string{"name": {"a", "re2:^b"}, "label": {"k=v", "bare"}, "mode": {"percent"}, "value": {"50"}, "seed": {"7"}, "restore": {"false"}, "signal": {"term"}}
	for _, fd := range info.Fields {
		for _, v := range set[fd.Flag] {
			if err := fd.Set(f, v); err != nil {
				t.Fatalf("--%s %s: %v", fd.Flag, v, err)
			}
		}
	}
	want := &containerFault[killAction]{kind: "kill",
		Target: containerTarget{Names: []string{"a", "re2:^b"}, Labels: map[string]string{"k": "v", "bare": ""}, Selection: Selection{Mode: ModePercent, Value: 50}, Seed: ptr(uint64(7))},
		Revert: restoreField{Restore: ptr(false)}, Action: killAction{Signal: "term"}}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("flags set %+v, want %+v", f, want)
	}
	lat, _ := NewFault("latency")
	latInfo, _ := DescribeKind("latency")
	for _, fd := range latInfo.Fields {
		if fd.Name == "latency" {
			if err := fd.Set(lat, "2 seconds"); err == nil {
				t.Errorf("latency accepted %q", "2 seconds")
			}
			if err := fd.Set(lat, "250ms"); err != nil || fd.Value(lat) != "250ms" {
				t.Errorf("latency 250ms: %v, reads back %q", err, fd.Value(lat))
			}
		}
	}
}

func TestRegisterKindPanicsOnDuplicate(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("registering latency twice did not panic")
		}
	}()
	registerToxic[latencyToxic]("latency", "again")
}
