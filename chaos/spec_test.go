package chaos

import (
	"errors"
	"os"
	"path/filepath"
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
	}{
		{"latency", Spec{Kind: "latency", Proxy: "db", Latency: 200 * time.Millisecond, Jitter: 20 * time.Millisecond}, nil},
		{"unknown kind lists the valid ones", Spec{Kind: "latensy"}, []string{`unknown fault kind "latensy" (did you mean latency?): valid kinds are bandwidth, crash, down, kill, latency, limit_data, pause, reset_peer, restart, signal, slicer, slow_close, stop, timeout`}},
		{"missing kind", Spec{}, []string{"fault kind is missing"}},
		{"every problem at once", Spec{Kind: "latency", Latency: 1500 * time.Microsecond, Stream: "sideways", Toxicity: ptr(2.0), Rate: 1000}, []string{
			"field rate does not apply", "proxy is required", "stream \"sideways\"", "toxicity 2", "whole number of milliseconds",
		}},
		{"listen without upstream", Spec{Kind: "down", Proxy: "db", Listen: "127.0.0.1:0"}, []string{"listen needs upstream"}},
		{"bad proxy name", Spec{Kind: "down", Proxy: "a/b"}, []string{"proxy name"}},
		{"bandwidth in whole KB/s", Spec{Kind: "bandwidth", Proxy: "db", Rate: 1500}, []string{"whole number of KB/s"}},
		{"jitter above latency", Spec{Kind: "latency", Proxy: "db", Latency: time.Millisecond, Jitter: time.Second}, []string{"larger than latency"}},
		{"slicer", Spec{Kind: "slicer", Proxy: "db", AverageSize: 10, SizeVariation: 20}, []string{"smaller than average_size"}},
		{"limit_data needs bytes", Spec{Kind: "limit_data", Proxy: "db"}, []string{"bytes is required"}},
		{"timeout zero is valid", Spec{Kind: "timeout", Proxy: "db", Timeout: ptr(time.Duration(0))}, nil},
		{"kill by label", Spec{Kind: "kill", Labels: map[string]string{"faultline.service": "catalog"}, Selection: Selection{Mode: ModeOne}}, nil},
		{"kill needs a selector", Spec{Kind: "kill"}, []string{"select containers"}},
		{"kill bad regex and signal", Spec{Kind: "kill", Names: []string{"re2:("}, Signal: "SIGFOO"}, []string{"names:", "unknown signal"}},
		{"two regexes", Spec{Kind: "pause", Names: []string{"re2:a", "re2:b"}}, []string{"at most one re2"}},
		{"pause has no signal", Spec{Kind: "pause", Names: []string{"x"}, Signal: "SIGKILL"}, []string{"field signal does not apply"}},
		{"stop with bad mode", Spec{Kind: "stop", Names: []string{"x"}, Selection: Selection{Mode: ModePercent, Value: 0}}, []string{"mode percent"}},
		{"signal needs a pid", Spec{Kind: "signal"}, []string{"pid or pidfile"}},
		{"signal pid and pidfile", Spec{Kind: "signal", PID: 1, Pidfile: "x"}, []string{"not both"}},
		{"signal lowercase name", Spec{Kind: "signal", PID: 12, Signal: "stop"}, nil},
		{"crash needs a service", Spec{Kind: "crash"}, []string{"service is required"}},
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
			_, err := New(tc.spec)
			if (err != nil) != (len(tc.want) > 0) {
				t.Fatalf("New = %v", err)
			}
			if err != nil && exitcode.Of(err) != exitcode.Usage {
				t.Fatalf("New error has exit code %d, want %d", exitcode.Of(err), exitcode.Usage)
			}
		})
	}
}

// TestSpecDecodesFromYAML decodes the faults of an experiment-like file
// strictly, as the experiment runner does.
func TestSpecDecodesFromYAML(t *testing.T) {
	t.Parallel()
	f, err := os.Open(filepath.Join("testdata", "faults.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var doc struct {
		Faults []Spec `yaml:"faults"`
	}
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Faults) != 6 {
		t.Fatalf("decoded %d faults, want 6", len(doc.Faults))
	}
	var errs []error
	for _, s := range doc.Faults {
		errs = append(errs, s.Validate()...)
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	lat, bw, slicer, kill, stop := doc.Faults[0], doc.Faults[1], doc.Faults[2], doc.Faults[3], doc.Faults[4]
	if lat.Latency != 200*time.Millisecond || lat.Jitter != 20*time.Millisecond || *lat.Toxicity != 0.5 || lat.Stream != "upstream" {
		t.Errorf("latency decoded as %+v", lat)
	}
	if bw.Rate != 100_000 {
		t.Errorf("rate decoded as %d", bw.Rate)
	}
	if slicer.AverageSize != 64 || slicer.SizeVariation != 16 || slicer.Delay != 10*time.Microsecond {
		t.Errorf("slicer decoded as %+v", slicer)
	}
	if kill.Labels["faultline.service"] != "catalog" || kill.Mode != ModePercent || kill.Value != 50 || *kill.Seed != 42 || kill.Signal != "SIGTERM" {
		t.Errorf("kill decoded as %+v", kill)
	}
	if *stop.Timeout != 5*time.Second || *stop.Restore || stop.Names[1] != "re2:^shop-" {
		t.Errorf("stop decoded as %+v", stop)
	}

	bad := "faults:\n  - kind: latency\n    proxy: db\n    latency: 200ms\n    latencyy: 1s\n"
	dec = yaml.NewDecoder(strings.NewReader(bad))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err == nil || !strings.Contains(err.Error(), "latencyy") {
		t.Fatalf("an unknown field decoded: %v", err)
	}
}
