package journal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/loadgen"
)

func TestRoundTripKeepsFailuresAndLinks(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1700000000, 0).UTC()
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.Write(Record{Type: "start", Plan: &Plan{Name: "exp", LoadStart: t0,
		Phases: []Phase{{Name: "baseline", EndMs: 2000}}}}))
	iv := loadgen.NewStats(t0, t0.Add(time.Second))
	iv.AddFailure(loadgen.FailureSample{Name: "create", Status: 400, Body: `{"error":"missing field sku"}`, Truncated: true})
	iv.AddFailure(loadgen.FailureSample{Name: "create", Error: loadgen.ErrReset, Body: "connection reset by peer"})
	must(w.WriteInterval("baseline", iv))
	must(w.Write(Record{Type: "link", Link: &Link{Proxy: "store", Link: "catalog->store", AtMs: 500, LatencyMs: 201.5, Status: 200}}))
	must(w.Close())
	raw, err := os.ReadFile(path)
	must(err)
	for _, version := range []string{`"version":2`, `"version":1`} {
		// A version 1 journal (no samples, no links) still reads.
		data := strings.Replace(string(raw), `"version":2`, version, 1)
		j, err := Read(strings.NewReader(data), "journal.jsonl")
		if err != nil {
			t.Fatalf("%s: %v", version, err)
		}
		got := j.Intervals[0].Failures
		if len(got) != 2 || got[0] != iv.Failures[0] || got[1] != iv.Failures[1] {
			t.Errorf("%s: failures read back %+v, want %+v", version, got, iv.Failures)
		}
		want := Link{Proxy: "store", Link: "catalog->store", AtMs: 500, LatencyMs: 201.5, Status: 200}
		if len(j.Links) != 1 || j.Links[0] != want {
			t.Errorf("%s: links read back %+v, want %+v", version, j.Links, want)
		}
	}
}
