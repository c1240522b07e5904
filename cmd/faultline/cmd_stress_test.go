package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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

// TestStressParentWatch is the dead-man's switch in real processes, on by
// default: a shell starts a stressor in the background without
// --parent-watch and exits once the stressor has printed its start line
// (printed after the watch's first look); the orphaned stressor must end,
// saying its parent ended, long before its --for of 60s.
func TestStressParentWatch(t *testing.T) {
	t.Parallel()
	bin := testenv.BuildFaultline(t)
	stderrFile := filepath.Join(t.TempDir(), "stderr")
	shell := exec.Command("/bin/sh", "-c", `"$0" stress cpu --load 5 --for 60s 2>"$1" & read _`, bin, stderrFile)
	keepShell, err := shell.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := shell.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := shell.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	keepShell.Close() // the shell's read ends, and so does the shell
	shell.Wait()
	var pid, ppid int
	if _, scanErr := fmt.Sscanf(line[strings.LastIndexByte(line, '('):], "(pid %d, stops when parent %d ends)", &pid, &ppid); err != nil || scanErr != nil {
		t.Fatalf("start line %q (%v, %v)", line, err, scanErr)
	}
	if ppid != shell.Process.Pid {
		t.Fatalf("start line %q: the parent is the shell, pid %d", line, shell.Process.Pid)
	}
	deadline := time.Now().Add(15 * time.Second)
	for running(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("stressor %d still runs 15s after its parent ended", pid)
		}
		<-time.After(50 * time.Millisecond)
	}
	if got, _ := os.ReadFile(stderrFile); !strings.Contains(string(got), "parent process ended") {
		t.Errorf("the stressor's stderr %q does not say its parent ended", got)
	}
}

// TestStressParentWatchOff: --parent-watch=false and a parent pid of 0 or
// 1 (exec'd into a container) leave the parent unwatched, and the start
// line says so; the stressor then ends at its --for.
func TestStressParentWatchOff(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runCLI(t, "stress", "cpu", "--load", "5", "--for", "300ms", "--parent-watch=false")
	if code != 0 || !strings.Contains(stdout, fmt.Sprintf("parent %d not watched", os.Getppid())) {
		t.Errorf("--parent-watch=false: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	cases := []struct {
		set, flag bool
		ppid      int
		want      bool
	}{
		{ppid: 0, want: false}, {ppid: 1, want: false}, {ppid: 2, want: true}, {ppid: 4242, want: true},
		{set: true, flag: true, ppid: 0, want: true}, {set: true, flag: true, ppid: 1, want: true},
		{set: true, flag: false, ppid: 4242, want: false},
	}
	for _, c := range cases {
		o := stressOptions{parentWatch: c.flag, parentWatchSet: c.set}
		if got := o.watchParent(c.ppid); got != c.want {
			t.Errorf("given %v, --parent-watch=%v, parent %d: watch %v, want %v", c.set, c.flag, c.ppid, got, c.want)
		}
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
