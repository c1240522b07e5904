package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// report is RESULTS.md as it is written.
type report struct {
	strings.Builder
	commands []string
}

func (r *report) w(format string, args ...any) { fmt.Fprintf(r, format, args...) }

// cmds writes the commands a section ran, once each.
func (r *report) cmds() {
	r.w("Commands:\n\n```\n")
	seen := map[string]bool{}
	for _, c := range r.commands {
		if !seen[c] {
			seen[c] = true
			r.w("%s\n", c)
		}
	}
	r.w("```\n\n")
	r.commands = nil
}

// runs are one tool's repeated runs of one measurement.
type runs []run

func (rs runs) median(f func(run) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func (rs runs) each(f func(run) float64, format string) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf(format, f(r))
	}
	return strings.Join(parts, ", ")
}

func perCPU(r run) float64   { return r.perCPUSecond() }
func p50(r run) float64      { return float64(r.p50) }
func p99(r run) float64      { return float64(r.p99) }
func rssOf(r run) float64    { return float64(r.maxRSS) }
func achieved(r run) float64 { return r.achieved }

// tool is one generator of a measurement, run by a closure.
type tool struct {
	name string
	run  func() (run, error)
}

// repeatTools runs every tool c.repeat times, interleaved so that a change
// in the machine's load falls on every tool alike.
func repeatTools(c config, r *report, tools []tool) (map[string]runs, error) {
	out := map[string]runs{}
	for i := 0; i < c.repeat; i++ {
		for _, t := range tools {
			res, err := t.run()
			if err != nil {
				return nil, err
			}
			out[t.name] = append(out[t.name], res)
			r.commands = append(r.commands, res.command)
		}
	}
	return out, nil
}

func uptime() string {
	out, err := exec.Command("uptime").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func bench(ctx context.Context, c config) (string, error) {
	r := &report{}
	r.w("# faultline benchmarks\n\n")
	r.w("Written by `bench/run.sh` (bench/driver) on %s. Every figure below was measured in this one run, on this machine:\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	r.w("- %s\n", machine())
	r.w("- load before the run: `%s`\n", uptime())
	r.w("- target: `bench/target` (Go net/http, a 17-byte body) pinned with `taskset -c %s`; every generator pinned with `taskset -c %s`.\n", c.serverCPU, c.genCPU)
	r.w("- CPU time (user + system) and peak RSS are the kernel's accounting of each generator process (getrusage of the child). Each ratio measurement ran %d times, the tools interleaved; tables give every run and the median.\n", c.repeat)
	r.w("- versions: %s\n\n", versions(ctx, c))
	r.w("**Read the ratios, not the absolute figures**: this machine is shared with other work (see the load above and at the end), which slows every tool; the ratios compare tools measured in the same run under the same load.\n\n")

	fast, err := startTarget(c)
	if err != nil {
		return "", err
	}
	defer fast.stop()
	for _, section := range []func(context.Context, config, *report, string) error{closedSection, openSection, memorySection, hopSection} {
		if err := section(ctx, c, r, fast.url); err != nil {
			return "", err
		}
	}
	fast.stop()
	if err := stallSection(ctx, c, r); err != nil {
		return "", err
	}
	r.w("Load after the run: `%s`\n", uptime())
	return r.String(), nil
}

func closedSection(ctx context.Context, c config, r *report, url string) error {
	fmt.Fprintln(os.Stderr, "closed model:")
	conns := strconv.Itoa(c.connections)
	tools := []tool{
		{"faultline", func() (run, error) {
			return faultline(ctx, c, "faultline", url, "--concurrency", conns, "--duration", secs(c.closedFor))
		}},
		{"faultline (goroutine engine)", func() (run, error) {
			return faultline(ctx, c, "faultline (goroutine engine)", url, "--concurrency", conns, "--duration", secs(c.closedFor), "--engine", "goroutine")
		}},
		{"wrk", func() (run, error) { return wrk(ctx, c, url, c.closedFor) }},
	}
	got, err := repeatTools(c, r, tools)
	if err != nil {
		return err
	}
	r.w("## Closed model: requests per generator CPU-second\n\n")
	r.w("%d connections (virtual users) for %s against the fast target. The figure is completed requests divided by the generator's CPU time, so it measures the generator's cost per request whatever the target's speed. faultline runs its default engine (epoll, for plain http:// on Linux) and, for comparison, `--engine goroutine`.\n\n", c.connections, c.closedFor)
	r.w("| tool | requests per CPU-second, each run | median | p50 (median) | p99 (median) | peak RSS (largest) |\n|---|---:|---:|---:|---:|---:|\n")
	for _, t := range tools {
		rs := got[t.name]
		r.w("| %s | %s | **%.0f** | %s | %s | %s |\n", t.name, rs.each(perCPU, "%.0f"), rs.median(perCPU), dur(time.Duration(rs.median(p50))), dur(time.Duration(rs.median(p99))), kib(int64(slices.Max(rssValues(rs)))))
	}
	fl := got["faultline"].median(perCPU)
	r.w("\nRatios of medians: faultline / wrk = **%.2f** (target: at least 1.0); faultline's goroutine engine / wrk = %.2f.\n\n", fl/got["wrk"].median(perCPU), got["faultline (goroutine engine)"].median(perCPU)/got["wrk"].median(perCPU))
	r.cmds()
	return nil
}

func rssValues(rs runs) []float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = rssOf(r)
	}
	return v
}

// openConnections is the connections every open-model tool may use.
const openConnections = 100

func openSection(ctx context.Context, c config, r *report, url string) error {
	fmt.Fprintln(os.Stderr, "open model:")
	r.w("## Open model: requests per CPU-second and achieved rate\n\n")
	r.w("Each tool asked for a constant arrival rate for %s with %d connections where it takes a number (vegeta opens what it needs). Achieved rate: faultline's send rate (requests sent over the longer of the schedule and the last send, so a late finish counts against it); wrk2's completed requests / %s; vegeta's own rate (requests over the attack's span). Send lag is how late faultline sent each request against its intended start; the others do not report it.\n\n", c.openFor, openConnections, c.openFor)
	r.w("| tool | target | requests per CPU-second, each run | median | achieved (median) | achieved / target | p50 | p99 | send lag p99 | peak RSS |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var ratios []string
	for _, rate := range []int{2000, 10000} {
		tools := []tool{{"faultline", func() (run, error) {
			return faultline(ctx, c, "faultline", url, "--rate", strconv.Itoa(rate)+"/s", "--duration", secs(c.openFor), "--connections", strconv.Itoa(openConnections))
		}}}
		if c.wrk2 != "" {
			tools = append(tools, tool{"wrk2", func() (run, error) { return wrk2(ctx, c, url, c.openFor, openConnections, rate) }})
		}
		if c.vegeta != "" {
			tools = append(tools, tool{"vegeta", func() (run, error) { return vegeta(ctx, c, url, c.openFor, rate) }})
		}
		got, err := repeatTools(c, r, tools)
		if err != nil {
			return err
		}
		for _, t := range tools {
			rs := got[t.name]
			lag := "n/a"
			if t.name == "faultline" {
				lag = dur(time.Duration(rs.median(func(x run) float64 { return float64(x.lagP99) })))
			}
			a := rs.median(achieved)
			r.w("| %s | %d/s | %s | **%.0f** | %.1f/s | **%.2f%%** | %s | %s | %s | %s |\n", t.name, rate, rs.each(perCPU, "%.0f"), rs.median(perCPU), a, 100*a/float64(rate),
				dur(time.Duration(rs.median(p50))), dur(time.Duration(rs.median(p99))), lag, kib(int64(slices.Max(rssValues(rs)))))
		}
		fl := got["faultline"].median(perCPU)
		for _, peer := range []string{"wrk2", "vegeta"} {
			if rs, ok := got[peer]; ok {
				ratios = append(ratios, fmt.Sprintf("at %d/s faultline / %s = **%.2f**", rate, peer, fl/rs.median(perCPU)))
			}
		}
	}
	r.w("\nRatios of medians, requests per CPU-second: %s (target against wrk2: at least 1.0).\n\n", strings.Join(ratios, "; "))
	r.cmds()
	return nil
}

func memorySection(ctx context.Context, c config, r *report, url string) error {
	fmt.Fprintln(os.Stderr, "memory:")
	base, _, err := measure(ctx, c, "faultline version", []string{filepath.Join(c.bin, "faultline"), "version"})
	if err != nil {
		return err
	}
	short, err := faultline(ctx, c, "faultline", url, "--rate", "5000/s", "--duration", secs(c.rssShort))
	if err != nil {
		return err
	}
	long, err := faultline(ctx, c, "faultline", url, "--rate", "5000/s", "--duration", secs(c.rssLong))
	if err != nil {
		return err
	}
	r.w("## Peak RSS at 5,000/s: %s against %s\n\n", c.rssShort, c.rssLong)
	r.w("| run | requests | peak RSS | peak anonymous | peak file-backed |\n|---|---:|---:|---:|---:|\n")
	r.w("| `faultline version` (the binary's floor: no load at all) | 0 | %s | | |\n", kib(base.maxRSS))
	for _, x := range []struct {
		d time.Duration
		r run
	}{{c.rssShort, short}, {c.rssLong, long}} {
		r.w("| %s | %d | %s | %s | %s |\n", x.d, x.r.requests, kib(x.r.maxRSS), kib(x.r.peakAnon), kib(x.r.peakFile))
	}
	r.w("\nThe %s run's peak RSS is **%.1f%%** of the %s run's (target: within 5%%), and %s above the floor of the binary doing nothing. ",
		c.rssLong, 100*float64(long.maxRSS)/float64(short.maxRSS), c.rssShort, kib(short.maxRSS-base.maxRSS))
	r.w("Peak RSS is the kernel's high-water mark of two kinds of page (the anonymous and file-backed peaks are sampled every 50 ms from /proc/PID/status). " +
		"The file-backed pages are the binary's own code and read-only data, mapped from the page cache as the start-up touches them: faultline links the Docker, Kubernetes, Toxiproxy and plotting clients (a text and read-only data of some 57 MB), whose initialisation touches 13.7 MB of the binary at 4 KiB granularity, and the kernel maps at least 64 KiB around each fault and, on recent kernels, the whole page-cache folio (up to 2 MiB): 35 MiB when the binary is cached in small folios, 42 to 46 MiB right after `go build` (as here), whose linker leaves 2 MiB folios. That figure moves with the kernel and the page cache's state, not with the load; the process cannot shrink it (docs/load.md, Memory). " +
		"The anonymous pages are the process's own memory: Go's heap (package initialisation allocates about 3.5 MB of it, the Kubernetes scheme registration the most; the load's histograms, 264 KiB each, a latency, a service-time and a send-lag one per event loop and request name, and as many for the interval being built and the run's total) at up to 1.5 times its live size (load runs the collector at GOGC=50), and the runtime's own structures. " +
		"What the load adds is sized by connections and request names, not by time: each event loop's 64 KiB read buffer, a few hundred bytes per connection, and the histograms (emptied every interval; the results file is streamed to disk).\n\n")
	r.w("```\nfaultline version\n%s\n%s\n```\n\n", short.command, long.command)
	return nil
}

func hopSection(ctx context.Context, c config, r *report, url string) error {
	fmt.Fprintln(os.Stderr, "toxiproxy hop:")
	upstream := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/")
	p, err := startProxy(ctx, c, upstream)
	if err != nil {
		return err
	}
	defer p.stop()
	tools := []tool{
		{"direct", func() (run, error) {
			return faultline(ctx, c, "direct", url, "--rate", "1000/s", "--duration", secs(c.stallFor))
		}},
		{"through the proxy", func() (run, error) {
			return faultline(ctx, c, "through the proxy", p.url, "--rate", "1000/s", "--duration", secs(c.stallFor))
		}},
	}
	got, err := repeatTools(c, r, tools)
	if err != nil {
		return err
	}
	r.w("## The embedded Toxiproxy hop\n\n")
	r.w("faultline at 1,000/s for %s against the target directly, and through a proxy of the embedded Toxiproxy (`faultline chaos toxiproxy serve`, pinned with the target, with one proxy and no toxic).\n\n", c.stallFor)
	r.w("| path | p50, each run | p99, each run | p50 (median) | p99 (median) |\n|---|---:|---:|---:|---:|\n")
	for _, t := range tools {
		rs := got[t.name]
		r.w("| %s | %s | %s | %s | %s |\n", t.name, rs.each(func(x run) float64 { return float64(x.p50) / 1e3 }, "%.0fµs"), rs.each(func(x run) float64 { return float64(x.p99) / 1e3 }, "%.0fµs"),
			dur(time.Duration(rs.median(p50))), dur(time.Duration(rs.median(p99))))
	}
	d, h := got["direct"], got["through the proxy"]
	r.w("\nThe hop adds **%s** at p50 (target: under 100µs) and **%s** at p99.\n\n", dur(time.Duration(h.median(p50)-d.median(p50))), dur(time.Duration(h.median(p99)-d.median(p99))))
	r.commands = append(r.commands, "faultline chaos toxiproxy serve --listen 127.0.0.1:0", "faultline chaos proxy create bench --upstream TARGET --toxiproxy-url API")
	r.cmds()
	return nil
}

func stallSection(ctx context.Context, c config, r *report) error {
	fmt.Fprintln(os.Stderr, "stall:")
	stall, err := startTarget(c, "-stall-every", "5s", "-stall-for", "1s")
	if err != nil {
		return err
	}
	defer stall.stop()
	type row struct {
		r     run
		model string
	}
	var rows []row
	sf, err := faultline(ctx, c, "faultline", stall.url, "--rate", "1000/s", "--duration", secs(c.stallFor))
	if err != nil {
		return err
	}
	rows = append(rows, row{sf, "open, latency from intended start"})
	if c.wrk2 != "" {
		w2, err := wrk2(ctx, c, stall.url, c.stallFor, openConnections, 1000)
		if err != nil {
			return err
		}
		rows = append(rows, row{w2, "open (-R), latency from intended start"})
	}
	if c.vegeta != "" {
		v, err := vegeta(ctx, c, stall.url, c.stallFor, 1000)
		if err != nil {
			return err
		}
		rows = append(rows, row{v, "open (-rate), latency from send"})
	}
	sw, err := wrk(ctx, c, stall.url, c.stallFor)
	if err != nil {
		return err
	}
	rows = append(rows, row{sw, "closed, " + strconv.Itoa(c.connections) + " connections"})
	truth := trueStallP99(1000, c.stallFor, 5*time.Second, time.Second)
	r.w("## Stall check\n\n")
	r.w("The target holds every request that arrives in the first second of each 5 s period until that second ends, like a process paused and resumed (`bench/target -stall-every 5s -stall-for 1s`). Load: 1,000 requests/s for %s.\n\n", c.stallFor)
	r.w(stallTruth, dur(truth))
	r.w("| tool | model | reported p50 | reported p99 | p99 / true p99 |\n|---|---|---:|---:|---:|\n")
	for _, x := range rows {
		r.w("| %s | %s | %s | %s | **%.3f** |\n", x.r.tool, x.model, dur(x.r.p50), dur(x.r.p99), float64(x.r.p99)/float64(truth))
		r.commands = append(r.commands, x.r.command)
	}
	r.w("\nTarget: faultline's p99 within 2%% of the true p99. %s\n\n", wrkNote)
	r.cmds()
	return nil
}

const stallTruth = "**The true p99 of that schedule.** Requests arrive evenly, so over whole periods a fifth of them land in a stall. One arriving a time u into a stall completes when the stall ends, after 1 s - u (plus the target's service time, well under a millisecond); u is uniform over the second. The p99 is the latency exceeded by 1%% of all requests, that is by 1%% / 20%% = 5%% of the stalled ones: 1 s - u exceeds 950 ms for u < 50 ms, 5%% of the stall. So the true p99 is **950 ms**, and the true p50 is the unstalled service time. (Computed from the exact schedule by `trueStallP99` in bench/driver: %s.)\n\n"
