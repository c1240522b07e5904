// Command driver runs faultline beside peer load generators (wrk, hey, ab and
// k6) against the same target on this machine, in one run, with the
// generator and the target pinned to different cores, and writes the
// commands and figures to bench/RESULTS.md. bench/run.sh installs the peers
// and calls it; see bench/README.md.
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
	serverCPU, genCPU  string
	closedFor, openFor time.Duration
	rssShort, rssLong  time.Duration
	stallFor           time.Duration
	connections        int
	out                string
}

// run is one tool invocation and what the OS measured of it.
type run struct {
	tool     string
	command  string
	wall     time.Duration
	cpu      time.Duration
	maxRSS   int64 // KiB
	requests int64
	p50, p99 time.Duration
	sendRate float64 // faultline only
	lagP99   time.Duration
	dropped  int64
	note     string
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
	flag.StringVar(&c.bin, "bin", "bench/out/bin", "folder holding faultline, target and k6")
	flag.StringVar(&c.out, "out", "bench/RESULTS.md", "where to write the results")
	flag.StringVar(&c.serverCPU, "server-cpu", "0", "core for the target")
	flag.StringVar(&c.genCPU, "generator-cpu", "1", "core for the generators")
	flag.IntVar(&c.connections, "connections", 50, "connections (closed model)")
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
	err := cmd.Run()
	r := run{tool: tool, command: strings.Join(argv, " "), wall: time.Since(began)}
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
	r.p50, r.p99, r.lagP99 = ms(s.Latency.P50), ms(s.Latency.P99), ms(s.SendLag.P99)
	return r, nil
}

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkPct      = regexp.MustCompile(`(?m)^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\b`)
	heyStatus   = regexp.MustCompile(`\[\d+\]\s+(\d+) responses`)
	heyPct      = regexp.MustCompile(`(?m)^\s+(50|99)%+ in ([\d.]+) secs`)
	abComplete  = regexp.MustCompile(`Complete requests:\s+(\d+)`)
	abPct       = regexp.MustCompile(`(?m)^\s+(50|99)%\s+(\d+)`)
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

func hey(ctx context.Context, c config, url string, d time.Duration, conns int, perWorkerQPS float64) (run, error) {
	argv := []string{"hey", "-z", secs(d), "-c", strconv.Itoa(conns)}
	if perWorkerQPS > 0 {
		argv = append(argv, "-q", strconv.FormatFloat(perWorkerQPS, 'f', -1, 64))
	}
	r, out, err := measure(ctx, c, "hey", append(argv, url))
	if err != nil {
		return r, err
	}
	for _, m := range heyStatus.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		r.requests += n
	}
	if r.requests == 0 {
		return r, fmt.Errorf("hey output not understood:\n%s", out)
	}
	for _, p := range heyPct.FindAllStringSubmatch(out, -1) {
		setPct(&r, p[1], unitDuration(p[2], "s"))
	}
	return r, nil
}

func ab(ctx context.Context, c config, url string, d time.Duration) (run, error) {
	r, out, err := measure(ctx, c, "ab", []string{"ab", "-k", "-q", "-c", strconv.Itoa(c.connections), "-t", strconv.Itoa(int(d.Seconds())), "-n", "100000000", url})
	if err != nil {
		return r, err
	}
	m := abComplete.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("ab output not understood:\n%s", out)
	}
	r.requests, _ = strconv.ParseInt(m[1], 10, 64)
	for _, p := range abPct.FindAllStringSubmatch(out, -1) {
		setPct(&r, p[1], unitDuration(p[2], "ms"))
	}
	return r, nil
}

// k6 runs a script with one scenario and reads the summary it exports.
func k6(ctx context.Context, c config, url, scenario string) (run, error) {
	summary := filepath.Join(c.work, "k6-summary.json")
	script := fmt.Sprintf(`import http from 'k6/http';
export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ['p(50)', 'p(99)', 'max'],
  scenarios: { bench: %s },
};
export default function () { http.get(%q); }
export function handleSummary(data) { return { %q: JSON.stringify(data) }; }
`, scenario, url, summary)
	path := filepath.Join(c.work, "bench.js")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		return run{}, err
	}
	r, out, err := measure(ctx, c, "k6", []string{filepath.Join(c.bin, "k6"), "run", "--quiet", path})
	if err != nil {
		return r, err
	}
	r.command = "k6 run bench.js  # scenario " + strings.Join(strings.Fields(scenario), " ")
	raw, err := os.ReadFile(summary)
	if err != nil {
		return r, fmt.Errorf("k6 wrote no summary (%v):\n%s", err, out)
	}
	var doc struct {
		Metrics map[string]struct {
			Values map[string]float64 `json:"values"`
		} `json:"metrics"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return r, err
	}
	r.requests = int64(doc.Metrics["http_reqs"].Values["count"])
	r.dropped = int64(doc.Metrics["dropped_iterations"].Values["count"])
	d := doc.Metrics["http_req_duration"].Values
	r.p50, r.p99 = ms(d["p(50)"]), ms(d["p(99)"])
	os.Remove(summary)
	return r, nil
}

func bench(ctx context.Context, c config) (string, error) {
	var md strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&md, format, args...) }
	w("# faultline benchmarks\n\n")
	w("Written by `bench/run.sh` (bench/driver) on %s. Every figure below was measured in this one run, on this machine:\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	w("- %s\n", machine())
	w("- target: `bench/target` (Go net/http, a 17-byte body) pinned with `taskset -c %s`; every generator pinned with `taskset -c %s`.\n", c.serverCPU, c.genCPU)
	w("- CPU time (user + system) and peak RSS are the kernel's accounting of each generator process (getrusage of the child).\n")
	w("- versions: %s\n\n", versions(ctx, c))

	fast, err := startTarget(c)
	if err != nil {
		return "", err
	}
	defer fast.stop()

	// 1. Closed model efficiency.
	fmt.Fprintln(os.Stderr, "closed model:")
	conns := strconv.Itoa(c.connections)
	var closed []run
	for _, f := range []func() (run, error){
		func() (run, error) {
			return faultline(ctx, c, "faultline", fast.url, "--concurrency", conns, "--duration", secs(c.closedFor))
		},
		func() (run, error) { return wrk(ctx, c, fast.url, c.closedFor) },
		func() (run, error) { return hey(ctx, c, fast.url, c.closedFor, c.connections, 0) },
		func() (run, error) { return ab(ctx, c, fast.url, c.closedFor) },
		func() (run, error) {
			return k6(ctx, c, fast.url, fmt.Sprintf(`{ executor: 'constant-vus', vus: %d, duration: '%s' }`, c.connections, secs(c.closedFor)))
		},
	} {
		r, err := f()
		if err != nil {
			return "", err
		}
		closed = append(closed, r)
	}
	w("## Closed model: requests per generator CPU-second\n\n")
	w("%d connections (virtual users) for %s against the fast target. The figure is completed requests divided by the generator's CPU time, so it measures the generator's cost per request whatever the target's speed.\n\n", c.connections, c.closedFor)
	w("| tool | requests | req/s | CPU s | requests per CPU-second | p50 | p99 | peak RSS |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	byTool := map[string]run{}
	for _, r := range closed {
		byTool[r.tool] = r
		w("| %s | %d | %.0f | %.2f | **%.0f** | %s | %s | %s |\n", r.tool, r.requests, float64(r.requests)/c.closedFor.Seconds(), r.cpu.Seconds(), r.perCPUSecond(), dur(r.p50), dur(r.p99), kib(r.maxRSS))
	}
	fl := byTool["faultline"].perCPUSecond()
	w("\nRatios: faultline / wrk = **%.2f**, faultline / k6 = **%.2f**, faultline / hey = %.2f, faultline / ab = %.2f.\n\n",
		fl/byTool["wrk"].perCPUSecond(), fl/byTool["k6"].perCPUSecond(), fl/byTool["hey"].perCPUSecond(), fl/byTool["ab"].perCPUSecond())
	w("Commands:\n\n```\n")
	for _, r := range closed {
		w("%s\n", r.command)
	}
	w("```\n\n")

	// 2. Open model accuracy.
	fmt.Fprintln(os.Stderr, "open model:")
	w("## Open model: achieved rate\n\n")
	w("Each tool asked for a constant arrival rate for %s. Achieved rate: requests sent divided by the run's planned length (faultline reports this as its send rate, counting a late finish against it; for the others it is requests completed / %s). wrk has no rate control (that is wrk2) and ab none at all, so they are not in this table; hey's `-q` is a per-worker limit, given as rate / connections.\n\n", c.openFor, c.openFor)
	w("| tool | target | achieved | achieved / target | p50 | p99 | send lag p99 | dropped |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	var openCmds []string
	for _, rate := range []int{2000, 10000} {
		rs := strconv.Itoa(rate)
		f, err := faultline(ctx, c, "faultline", fast.url, "--rate", rs+"/s", "--duration", secs(c.openFor))
		if err != nil {
			return "", err
		}
		k, err := k6(ctx, c, fast.url, fmt.Sprintf(`{ executor: 'constant-arrival-rate', rate: %d, timeUnit: '1s', duration: '%s', preAllocatedVUs: 200, maxVUs: 2000 }`, rate, secs(c.openFor)))
		if err != nil {
			return "", err
		}
		h, err := hey(ctx, c, fast.url, c.openFor, c.connections, float64(rate)/float64(c.connections))
		if err != nil {
			return "", err
		}
		for _, r := range []run{f, k, h} {
			achieved := float64(r.requests) / c.openFor.Seconds()
			lag := "n/a"
			if r.tool == "faultline" {
				achieved = r.sendRate
				lag = dur(r.lagP99)
			}
			w("| %s | %d/s | %.1f/s | **%.2f%%** | %s | %s | %s | %d |\n", r.tool, rate, achieved, 100*achieved/float64(rate), dur(r.p50), dur(r.p99), lag, r.dropped)
			openCmds = append(openCmds, r.command)
		}
	}
	w("\nCommands:\n\n```\n%s\n```\n\n", strings.Join(openCmds, "\n"))

	// 3. Memory over run length.
	fmt.Fprintln(os.Stderr, "memory:")
	w("## Peak RSS at 5,000/s: %s against %s\n\n", c.rssShort, c.rssLong)
	short, err := faultline(ctx, c, "faultline", fast.url, "--rate", "5000/s", "--duration", secs(c.rssShort))
	if err != nil {
		return "", err
	}
	long, err := faultline(ctx, c, "faultline", fast.url, "--rate", "5000/s", "--duration", secs(c.rssLong))
	if err != nil {
		return "", err
	}
	w("| run | requests | peak RSS |\n|---|---:|---:|\n| %s | %d | %s |\n| %s | %d | %s |\n\n", c.rssShort, short.requests, kib(short.maxRSS), c.rssLong, long.requests, kib(long.maxRSS))
	w("The %s run's peak RSS is **%.1f%%** of the %s run's (memory does not grow with the run's length: histograms are per interval and the results file is streamed to disk).\n\n", c.rssLong, 100*float64(long.maxRSS)/float64(short.maxRSS), c.rssShort)
	w("```\n%s\n%s\n```\n\n", short.command, long.command)
	fast.stop()

	// 4. The stall check.
	fmt.Fprintln(os.Stderr, "stall:")
	stall, err := startTarget(c, "-stall-every", "5s", "-stall-for", "1s")
	if err != nil {
		return "", err
	}
	defer stall.stop()
	sf, err := faultline(ctx, c, "faultline", stall.url, "--rate", "1000/s", "--duration", secs(c.stallFor))
	if err != nil {
		return "", err
	}
	sk, err := k6(ctx, c, stall.url, fmt.Sprintf(`{ executor: 'constant-arrival-rate', rate: 1000, timeUnit: '1s', duration: '%s', preAllocatedVUs: 200, maxVUs: 2000 }`, secs(c.stallFor)))
	if err != nil {
		return "", err
	}
	sw, err := wrk(ctx, c, stall.url, c.stallFor)
	if err != nil {
		return "", err
	}
	truth := trueStallP99(1000, c.stallFor, 5*time.Second, time.Second)
	w("## Stall check\n\n")
	w("The target holds every request that arrives in the first second of each 5 s period until that second ends, like a process paused and resumed (`bench/target -stall-every 5s -stall-for 1s`). Load: 1,000 requests/s for %s.\n\n", c.stallFor)
	w("**The true p99 of that schedule.** Requests arrive evenly, so over whole periods a fifth of them land in a stall. One arriving a time u into a stall completes when the stall ends, after 1 s - u (plus the target's service time, well under a millisecond); u is uniform over the second. The p99 is the latency exceeded by 1%% of all requests, that is by 1%% / 20%% = 5%% of the stalled ones: 1 s - u exceeds 950 ms for u < 50 ms, 5%% of the stall. So the true p99 is **950 ms**, and the true p50 is the unstalled service time. (Computed from the exact schedule by `trueStallP99` in bench/driver: %s.)\n\n", dur(truth))
	w("| tool | model | reported p50 | reported p99 | p99 / true p99 |\n|---|---|---:|---:|---:|\n")
	for _, r := range []struct {
		r     run
		model string
	}{{sf, "open, latency from intended start"}, {sk, "open (arrival rate), latency from send"}, {sw, "closed, " + strconv.Itoa(c.connections) + " connections"}} {
		w("| %s | %s | %s | %s | **%.2f** |\n", r.r.tool, r.model, dur(r.r.p50), dur(r.r.p99), float64(r.r.p99)/float64(truth))
	}
	w("\n%s\n", wrkNote)
	w("\n```\n%s\n%s\n%s\n```\n", sf.command, sk.command, sw.command)
	return md.String(), nil
}

// wrkNote explains wrk's stall figure, which looks right for the wrong
// reason.
const wrkNote = "wrk's p99 is close to the truth by synthesis, not measurement: after the run, wrk 4 back-fills its histogram (`stats_correct` in its src/stats.c) with samples at every expected interval below each latency longer than twice that interval, the correction HdrHistogram calls recordCorrectedValue. Its own figures give it away: in a 10 s check run here it reported 374,714 requests at a mean of 45.7 ms, about 17,000 request-seconds, which 50 connections cannot hold in 10 seconds. faultline measures each request from its intended start, so its tail is what the schedule really saw; k6's arrival-rate executor, with VUs to spare, sends on schedule and measures from the send."

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
	return strings.Join([]string{
		v("faultline", filepath.Join(c.bin, "faultline"), "version"),
		v("wrk", "wrk", "-v"),
		v("ab", "ab", "-V"),
		v("k6", filepath.Join(c.bin, "k6"), "version"),
		"hey " + debVersion(ctx, "hey"),
	}, ", ")
}

func debVersion(ctx context.Context, pkg string) string {
	out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f=${Version}", pkg).Output()
	if err != nil {
		return "(version unknown)"
	}
	return "`" + string(out) + "` (Debian package)"
}
