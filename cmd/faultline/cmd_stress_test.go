package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/internal/testenv"
)

// TestStressBadInput: every bad flag exits 2 and names the flag.
func TestStressBadInput(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		flag string
	}{
		{[]string{"stress", "cpu", "--load", "0", "--for", "1s"}, "--load"},
		{[]string{"stress", "cpu", "--load", "101", "--for", "1s"}, "--load"},
		{[]string{"stress", "cpu", "--load", "50", "--workers", "0", "--for", "1s"}, "--workers"},
		{[]string{"stress", "cpu", "--load", "50"}, "--for"},
		{[]string{"stress", "cpu", "--load", "50", "--for", "25h"}, "--for"},
		{[]string{"stress", "cpu", "--load", "50", "--for", "-1s"}, "--for"},
		{[]string{"stress", "memory", "--size", "256", "--for", "1s"}, "--size"},
		{[]string{"stress", "memory", "--size", "256 lots", "--for", "1s"}, "--size"},
		{[]string{"stress", "memory", "--for", "1s"}, "--size"},
		{[]string{"stress", "memory", "--size", "1MiB"}, "--for"},
		{[]string{"stress", "memory", "--size", "1MiB", "--for", "48h"}, "--for"},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.flag) {
			t.Errorf("faultline %v: exit %d, stderr %q; want exit 2 naming %s", c.args, code, stderr, c.flag)
		}
	}
}

// TestStressEndsAtFor: a stressor exits by itself, successfully, at the end
// of --for (with generous slack for a busy machine).
func TestStressEndsAtFor(t *testing.T) {
	t.Parallel()
	cases := [][]string{
		{"stress", "cpu", "--load", "20", "--workers", "2", "--for", "700ms"},
		{"stress", "memory", "--size", "16MiB", "--for", "700ms", "--parent-watch"},
	}
	for _, args := range cases {
		start := time.Now()
		code, stdout, stderr := runCLI(t, args...)
		took := time.Since(start)
		if code != 0 {
			t.Errorf("faultline %v: exit %d, stderr %q", args, code, stderr)
		}
		if took < 700*time.Millisecond || took > 700*time.Millisecond+3*time.Second {
			t.Errorf("faultline %v: ran %v, want the 700ms of --for", args, took)
		}
		if !strings.HasPrefix(stdout, "stress "+args[1]+":") {
			t.Errorf("faultline %v: stdout %q", args, stdout)
		}
	}
}

// TestStressStopWithoutStressors: stop with nothing to stop says so and
// succeeds (the revert of a stress fault whose stressor already ended).
func TestStressStopWithoutStressors(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runCLI(t, "stress", "stop")
	if code != 0 || !strings.Contains(stdout, "0 stressor(s) stopped") {
		t.Errorf("stress stop: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestStressParentWatch is the dead-man's switch in real processes: a shell
// starts a stressor with --parent-watch in the background and exits at
// once; the orphaned stressor must end long before its --for of 60s.
func TestStressParentWatch(t *testing.T) {
	t.Parallel()
	bin := testenv.BuildFaultline(t)
	out, err := exec.Command("/bin/sh", "-c", bin+" stress cpu --load 5 --for 60s --parent-watch >/dev/null 2>&1 & echo $!").Output()
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("shell printed %q", out)
	}
	deadline := time.Now().Add(15 * time.Second)
	for running(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("stressor %d still runs 15s after its parent ended", pid)
		}
		<-time.After(50 * time.Millisecond)
	}
}

// running reports whether pid is a live process: it exists and is not a
// zombie waiting to be reaped by its new parent.
func running(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] != 'Z'
}
