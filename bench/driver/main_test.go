package main

import (
	"os"
	"testing"
	"time"
)

func TestTrueStallP99(t *testing.T) {
	t.Parallel()
	// 1,000/s for 20s over a target stalled 1s in every 5s: a fifth of the
	// requests wait, the top 5% of them 950ms or more.
	got := trueStallP99(1000, 20*time.Second, 5*time.Second, time.Second)
	if got != 950*time.Millisecond {
		t.Errorf("true p99 = %v, want 950ms", got)
	}
	// No stall, no latency.
	if got := trueStallP99(1000, 10*time.Second, 5*time.Second, 0); got != 0 {
		t.Errorf("without stalls p99 = %v, want 0", got)
	}
}

func TestSamplePeakRSS(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	time.AfterFunc(120*time.Millisecond, func() { close(stop) })
	anon, file := samplePeakRSS(os.Getpid(), stop)
	if anon <= 0 || file <= 0 {
		t.Errorf("peak anonymous %d KiB, file-backed %d KiB of this test; want both above 0", anon, file)
	}
}
