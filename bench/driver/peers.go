package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// wrk2 runs giltene/wrk2 (built from source; its binary is also called wrk)
// at a constant rate. Its output has wrk's shape.
func wrk2(ctx context.Context, c config, url string, d time.Duration, conns, rate int) (run, error) {
	argv := []string{c.wrk2, "-t1", "-c" + strconv.Itoa(conns), "-d" + secs(d), "-R" + strconv.Itoa(rate), "--latency", url}
	r, out, err := measure(ctx, c, "wrk2", argv)
	if err != nil {
		return r, err
	}
	r.command = strings.Replace(r.command, c.wrk2, "wrk2", 1)
	m := wrkRequests.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("wrk2 output not understood:\n%s", out)
	}
	r.requests, _ = strconv.ParseInt(m[1], 10, 64)
	r.achieved = float64(r.requests) / d.Seconds()
	for _, p := range wrkPct.FindAllStringSubmatch(out, -1) {
		setPct(&r, p[1], unitDuration(p[2], p[3]))
	}
	return r, nil
}

// vegeta runs tsenart/vegeta's attack (built from source) at a constant
// rate; only the attack is measured, its report is read afterwards.
func vegeta(ctx context.Context, c config, url string, d time.Duration, rate int) (run, error) {
	targets := filepath.Join(c.work, "vegeta-targets.txt")
	results := filepath.Join(c.work, "vegeta.bin")
	if err := os.WriteFile(targets, []byte("GET "+url+"\n"), 0o644); err != nil {
		return run{}, err
	}
	argv := []string{c.vegeta, "attack", "-rate=" + strconv.Itoa(rate) + "/s", "-duration=" + secs(d), "-targets=" + targets, "-output=" + results}
	r, out, err := measure(ctx, c, "vegeta", argv)
	if err != nil {
		return r, err
	}
	r.command = fmt.Sprintf("vegeta attack -rate=%d/s -duration=%s -targets=targets.txt -output=results.bin", rate, secs(d))
	raw, err := exec.CommandContext(ctx, c.vegeta, "report", "-type=json", results).Output()
	if err != nil {
		return r, fmt.Errorf("vegeta report: %w (attack said %s)", err, out)
	}
	var rep struct {
		Latencies map[string]int64 `json:"latencies"`
		Requests  int64            `json:"requests"`
		Rate      float64          `json:"rate"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		return r, fmt.Errorf("vegeta report: %w", err)
	}
	r.requests, r.achieved = rep.Requests, rep.Rate
	r.p50, r.p99 = time.Duration(rep.Latencies["50th"]), time.Duration(rep.Latencies["99th"])
	os.Remove(results)
	return r, nil
}

// proxy is the embedded Toxiproxy with one proxy in front of a target.
type proxy struct {
	server *exec.Cmd
	url    string // the proxy's listen address as an http URL
}

var (
	apiLine   = regexp.MustCompile(`toxiproxy API on (\S+)`)
	proxyLine = regexp.MustCompile(`listening on (\S+) ->`)
)

// startProxy runs `faultline chaos toxiproxy serve` on the target's core
// (the proxy is part of the system under test) and creates a proxy to
// upstream through `faultline chaos proxy create`.
func startProxy(ctx context.Context, c config, upstream string) (*proxy, error) {
	fl := filepath.Join(c.bin, "faultline")
	cmd := exec.Command("taskset", "-c", c.serverCPU, fl, "chaos", "toxiproxy", "serve", "--listen", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proxy{server: cmd}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	m := apiLine.FindStringSubmatch(line)
	if err != nil || m == nil {
		p.stop()
		return nil, fmt.Errorf("toxiproxy did not start (%v): %q", err, line)
	}
	out, err := exec.CommandContext(ctx, fl, "chaos", "proxy", "create", "bench", "--upstream", upstream, "--toxiproxy-url", m[1]).CombinedOutput()
	pm := proxyLine.FindStringSubmatch(string(out))
	if err != nil || pm == nil {
		p.stop()
		return nil, fmt.Errorf("proxy create (%v): %s", err, out)
	}
	p.url = "http://" + pm[1] + "/"
	return p, nil
}

func (p *proxy) stop() {
	p.server.Process.Signal(os.Interrupt)
	p.server.Wait()
}

// available reports whether a peer's binary can be run, and says so on
// stderr when it cannot.
func available(name, path, hint string) bool {
	if path != "" {
		if _, err := exec.LookPath(path); err == nil {
			return true
		}
	}
	fmt.Fprintf(os.Stderr, "bench: %s skipped: %s\n", name, hint)
	return false
}
