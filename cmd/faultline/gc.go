package main

import "runtime/debug"

// loadGCPercent is the garbage collector's target while a command drives
// load: the heap may grow to 1.5 times what was live after the last
// collection instead of Go's default of twice. A load's live heap is about
// 6 MB at 5,000/s (about 3 MB from package initialisation, the rest its
// histograms, 264 KiB each), and its garbage comes once a second with each
// interval (the interval's histograms and the results file's compressed
// encoding of them), whatever the rate: so the lower target keeps about
// 3.4 MiB less memory for about 1.8 ms more collection per second of load,
// measured over 150,000 requests at 5,000/s (docs/load.md, Memory).
const loadGCPercent = 50

// tuneGCForLoad sets loadGCPercent for a command that drives load, unless
// the GOGC environment variable chose a target of its own.
func tuneGCForLoad(e *env) {
	if e.getenv("GOGC") != "" {
		return
	}
	debug.SetGCPercent(loadGCPercent)
}
