// Command driver runs faultline beside peer load generators (wrk, and wrk2
// and vegeta built from source) against the same target on this machine, in
// one run, with the generator and the target pinned to different cores, and
// writes the commands and figures to bench/RESULTS.md. bench/run.sh installs
// wrk and calls it; see bench/README.md.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type config struct {
	bin, work          string
	wrk2, vegeta       string // peers built from source; "" when missing
	repeat             int    // runs of each ratio measurement; medians are reported
	serverCPU, genCPU  string
	closedFor, openFor time.Duration
	rssShort, rssLong  time.Duration
	stallFor           time.Duration
	connections        int
	out                string
}

// run is one tool invocation and what the OS measured of it.
type run struct {
	tool    string
	command string
	wall    time.Duration
	cpu     time.Duration
	maxRSS  int64 // KiB
	// The largest anonymous and file-backed resident sizes seen while the
	// tool ran (KiB; /proc/PID/status sampled every 50 ms, so a tool that
	// ends within one sample has none).
	peakAnon, peakFile int64
	requests           int64
	p50, p99           time.Duration
	sendRate           float64 // faultline only
	achieved           float64 // open model: the tool's own achieved rate
	lagP99             time.Duration
	dropped            int64
	note               string
}

func (r run) perCPUSecond() float64 {
	if r.cpu <= 0 {
		return 0
	}
	return float64(r.requests) / r.cpu.Seconds()
}

func main() {
	var c config
	quick := flag.Bool("quick", false, "short durations, to check the driver itself")
	flag.StringVar(&c.bin, "bin", "bench/out/bin", "folder holding faultline and target")
	flag.StringVar(&c.out, "out", "bench/RESULTS.md", "where to write the results")
	flag.StringVar(&c.serverCPU, "server-cpu", "0", "core for the target")
	flag.StringVar(&c.genCPU, "generator-cpu", "1", "core for the generators")
	flag.IntVar(&c.connections, "connections", 50, "connections (closed model)")
	flag.StringVar(&c.wrk2, "wrk2", "", "wrk2's binary (giltene/wrk2 built with make); empty: skipped")
	flag.StringVar(&c.vegeta, "vegeta", "", "vegeta's binary (tsenart/vegeta built with go build); empty: skipped")
	flag.IntVar(&c.repeat, "repeat", 2, "runs of each ratio measurement (medians are reported)")
	flag.Parse()
	c.closedFor, c.openFor, c.rssShort, c.rssLong, c.stallFor = 15*time.Second, 30*time.Second, 60*time.Second, 300*time.Second, 20*time.Second
	if *quick {
		c.closedFor, c.openFor, c.rssShort, c.rssLong, c.stallFor = 3*time.Second, 5*time.Second, 5*time.Second, 10*time.Second, 10*time.Second
	}
	var err error
	// Tools run in a scratch folder, so the binaries need absolute paths.
	if c.bin, err = filepath.Abs(c.bin); err != nil {
		fail(err)
	}
	for _, peer := range []struct {
		name, env string
		path      *string
	}{{"wrk2", "WRK2", &c.wrk2}, {"vegeta", "VEGETA", &c.vegeta}} {
		if !available(peer.name, *peer.path, "give its binary as "+peer.env+"=/path (bench/README.md says how to build it)") {
			*peer.path = ""
		} else if *peer.path, err = filepath.Abs(*peer.path); err != nil {
			fail(err)
		}
	}
	if c.work, err = os.MkdirTemp("", "faultline-bench-"); err != nil {
		fail(err)
	}
	defer os.RemoveAll(c.work)
	ctx := context.Background()
	md, err := bench(ctx, c)
	if err != nil {
		fail(err)
	}
	if err := os.WriteFile(c.out, []byte(md), 0o644); err != nil {
		fail(err)
	}
	fmt.Println("wrote", c.out)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

// target is a running bench target.
type target struct {
	cmd       *exec.Cmd
	url       string
	startedAt time.Time
}

func startTarget(c config, args ...string) (*target, error) {
	cmd := exec.Command("taskset", append([]string{"-c", c.serverCPU, filepath.Join(c.bin, "target")}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("target did not start: %w", err)
	}
	var addr string
	var ns int64
	if _, err := fmt.Sscanf(line, "%s %d", &addr, &ns); err != nil {
		return nil, fmt.Errorf("target said %q: %w", line, err)
	}
	return &target{cmd: cmd, url: "http://" + addr + "/", startedAt: time.Unix(0, ns)}, nil
}

func (t *target) stop() {
	t.cmd.Process.Signal(syscall.SIGTERM)
	t.cmd.Wait()
}

// measure runs argv pinned to the generator core and reads its CPU time and
// peak RSS from the kernel's accounting of the child.
func measure(ctx context.Context, c config, tool string, argv []string) (run, string, error) {
	cmd := exec.CommandContext(ctx, "taskset", append([]string{"-c", c.genCPU}, argv...)...)
	cmd.Dir = c.work
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "K6_NO_USAGE_REPORT=true")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	began := time.Now()
	r := run{tool: tool, command: strings.Join(argv, " ")}
	err := cmd.Start()
	if err == nil {
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			r.peakAnon, r.peakFile = samplePeakRSS(cmd.Process.Pid, stop)
		}()
		err = cmd.Wait()
		close(stop)
		<-sampled
	}
	r.wall = time.Since(began)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return r, out.String(), fmt.Errorf("%s: %w", tool, err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		r.maxRSS = ru.Maxrss
	}
	fmt.Fprintf(os.Stderr, "  %-9s %6.1fs wall %6.2fs CPU  %s\n", tool, r.wall.Seconds(), r.cpu.Seconds(), r.command)
	return r, out.String(), nil
}

// samplePeakRSS reads the RssAnon and RssFile of process pid every 50 ms
// until stop is closed and returns the largest of each (KiB). The kernel
// keeps only the peak of their sum (getrusage's ru_maxrss); the split says
// how much is the process's own memory and how much the pages of its
// binary it has mapped.
func samplePeakRSS(pid int, stop <-chan struct{}) (anon, file int64) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return anon, file
		case <-tick.C:
		}
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			var kb int64
			if _, err := fmt.Sscanf(line, "RssAnon: %d kB", &kb); err == nil {
				anon = max(anon, kb)
			} else if _, err := fmt.Sscanf(line, "RssFile: %d kB", &kb); err == nil {
				file = max(file, kb)
			}
		}
	}
}

func secs(d time.Duration) string { return strconv.Itoa(int(d.Seconds())) + "s" }

// faultline runs `faultline load` and reads its results file.
func faultline(ctx context.Context, c config, label string, args ...string) (run, error) {
	out := filepath.Join(c.work, "faultline-"+strconv.FormatInt(time.Now().UnixNano(), 36)+".json")
	argv := append([]string{filepath.Join(c.bin, "faultline"), "load"}, args...)
	argv = append(argv, "--quiet", "--out", out)
	r, text, err := measure(ctx, c, label, argv)
	if err != nil {
		return r, err
	}
	r.command = strings.Replace(r.command, filepath.Join(c.bin, "faultline"), "faultline", 1)
	r.command = strings.Replace(r.command, " --out "+out, " --out results.json", 1)
	raw, err := os.ReadFile(out)
	if err != nil {
		return r, fmt.Errorf("faultline wrote no results (%v):\n%s", err, text)
	}
	var doc struct {
		Summary struct {
			Requests int64   `json:"requests"`
			SendRate float64 `json:"send_rate"`
			Dropped  int64   `json:"dropped"`
			Latency  struct {
				P50 float64 `json:"p50_ms"`
				P99 float64 `json:"p99_ms"`
			} `json:"latency"`
			SendLag struct {
				P99 float64 `json:"p99_ms"`
			} `json:"send_lag"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return r, err
	}
	s := doc.Summary
	r.requests, r.sendRate, r.dropped = s.Requests, s.SendRate, s.Dropped
	r.achieved = s.SendRate
	r.p50, r.p99, r.lagP99 = ms(s.Latency.P50), ms(s.Latency.P99), ms(s.SendLag.P99)
	return r, nil
}

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkPct      = regexp.MustCompile(`(?m)^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\b`)
)

func unitDuration(v, unit string) time.Duration {
	f, _ := strconv.ParseFloat(v, 64)
	switch unit {
	case "us":
		return time.Duration(f * float64(time.Microsecond))
	case "ms":
		return time.Duration(f * float64(time.Millisecond))
	default:
		return time.Duration(f * float64(time.Second))
	}
}

func wrk(ctx context.Context, c config, url string, d time.Duration) (run, error) {
	r, out, err := measure(ctx, c, "wrk", []string{"wrk", "-t1", "-c" + strconv.Itoa(c.connections), "-d" + secs(d), "--latency", url})
	if err != nil {
		return r, err
	}
	m := wrkRequests.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("wrk output not understood:\n%s", out)
	}
	r.requests, _ = strconv.ParseInt(m[1], 10, 64)
	for _, p := range wrkPct.FindAllStringSubmatch(out, -1) {
		setPct(&r, p[1], unitDuration(p[2], p[3]))
	}
	return r, nil
}

func setPct(r *run, which string, d time.Duration) {
	if which == "50" {
		r.p50 = d
	} else {
		r.p99 = d
	}
}

// wrkNote explains wrk's stall figure, which looks right for the wrong
// reason.
const wrkNote = "wrk's p99 is close to the truth by synthesis, not measurement: after the run, wrk 4 back-fills its histogram (`stats_correct` in its src/stats.c) with samples at every expected interval below each latency longer than twice that interval, the correction HdrHistogram calls recordCorrectedValue. Its own figures give it away: in a 10 s check run here it reported 374,714 requests at a mean of 45.7 ms, about 17,000 request-seconds, which 50 connections cannot hold in 10 seconds. faultline and wrk2 measure each request from its intended start, so their tails are what the schedule really saw; vegeta measures from the send, which is on schedule as long as it has workers to spare (it starts more as they block)."

// trueStallP99 lays the exact schedule (rate per second for d) over a target
// that stalls for the first stall of every period and returns the p99 of the
// latencies that schedule really has, ignoring service time. The phase of the
// stall clock does not matter over whole periods.
func trueStallP99(rate int, d, period, stall time.Duration) time.Duration {
	n := int(float64(rate) * d.Seconds())
	lat := make([]time.Duration, n)
	for i := range lat {
		at := time.Duration(float64(i) / float64(rate) * float64(time.Second))
		if into := at % period; into < stall {
			lat[i] = stall - into
		}
	}
	slices.Sort(lat)
	// The p99 is the value at rank ceil(0.99 n) in ascending order.
	return lat[int(math.Ceil(0.99*float64(n)))-1]
}

func dur(d time.Duration) string {
	switch {
	case d <= 0:
		return "n/a"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.3fs", d.Seconds())
	}
}

func kib(k int64) string { return fmt.Sprintf("%.1f MiB", float64(k)/1024) }

func machine() string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	out, _ := exec.Command("nproc").Output()
	return fmt.Sprintf("machine: %s cores, %s", strings.TrimSpace(string(out)), model)
}

func versions(ctx context.Context, c config) string {
	v := func(name string, argv ...string) string {
		out, _ := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return name + " `" + line + "`"
	}
	vs := []string{v("faultline", filepath.Join(c.bin, "faultline"), "version"), v("wrk", "wrk", "-v")}
	if c.wrk2 != "" {
		vs = append(vs, "wrk2 "+gitVersion(ctx, c.wrk2))
	}
	if c.vegeta != "" {
		vs = append(vs, "vegeta "+gitVersion(ctx, c.vegeta))
	}
	return strings.Join(vs, ", ")
}

// gitVersion names the commit a peer built from source was built at.
func gitVersion(ctx context.Context, bin string) string {
	out, err := exec.CommandContext(ctx, "git", "-C", filepath.Dir(bin), "log", "-1", "--format=%h %cs").Output()
	if err != nil {
		return "(built from source, commit unknown)"
	}
	return "built from source at `" + strings.TrimSpace(string(out)) + "`"
}
