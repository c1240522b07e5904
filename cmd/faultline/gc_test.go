package main

import (
	"runtime/debug"
	"testing"
)

// TestTuneGCForLoad checks that a load command lowers the GC target to
// loadGCPercent and leaves one chosen by $GOGC alone. Not parallel: the
// target is the process's.
func TestTuneGCForLoad(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	tuneGCForLoad(&env{getenv: func(string) string { return "" }})
	if got := debug.SetGCPercent(100); got != loadGCPercent {
		t.Fatalf("GC percent %d after tuneGCForLoad, want %d", got, loadGCPercent)
	}
	tuneGCForLoad(&env{getenv: func(k string) string {
		if k == "GOGC" {
			return "100"
		}
		return ""
	}})
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GC percent %d with GOGC=100 set, want 100 kept", got)
	}
}
