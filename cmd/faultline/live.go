package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/faultline-dev/faultline/experiments"
	"github.com/faultline-dev/faultline/internal/live"
)

// liveFlags are the live-metrics flags that load and run share.
type liveFlags struct {
	metricsAddr, remoteWrite string
}

const liveHelp = `Live metrics: --metrics-addr serves the figures at /metrics in the
Prometheus exposition format while the load runs (requests by name and
outcome, responses by status, errors by class, dropped, send lag, latency as
a native and a classic histogram, generator CPU; in run also the current
phase and the active faults); --prometheus-remote-write pushes the same
series after every interval (remote write 1.0 with native histograms). A
receiver that fails never stops or slows the load: failed pushes are
counted, warned about at most once a minute and reported at the end. A
--metrics-addr port in use is exit 2 before anything is sent.
dashboards/faultline.json is a Grafana dashboard for these series; details
in docs/live.md.`

func (f *liveFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&f.metricsAddr, "metrics-addr", "", "serve live Prometheus metrics at http://ADDR/metrics while running, e.g. 127.0.0.1:9464")
	fl.StringVar(&f.remoteWrite, "prometheus-remote-write", "", "push live metrics after every interval to this remote-write URL, e.g. http://127.0.0.1:9090/api/v1/write")
}

// start opens what the flags ask for, before any traffic: a port in use
// is a usage error naming its flag. It returns nil when neither is set.
func (f *liveFlags) start(e *env) (*live.Live, error) {
	if f.metricsAddr == "" && f.remoteWrite == "" {
		return nil, nil
	}
	l := live.New(e.stderr)
	if f.metricsAddr != "" {
		if err := l.Serve(f.metricsAddr); err != nil {
			return nil, usageErrorf("--metrics-addr %s: %v", f.metricsAddr, err)
		}
	}
	if f.remoteWrite != "" {
		if err := l.RemoteWrite(f.remoteWrite); err != nil {
			l.Close()
			return nil, usageErrorf("--prometheus-remote-write %s: %v", f.remoteWrite, err)
		}
	}
	return l, nil
}

// stop closes l (a last push included) and says on stderr what the remote
// write missed, if anything.
func stopLive(e *env, l *live.Live) {
	if l == nil {
		return
	}
	if report := l.Close(); report != "" {
		fmt.Fprintf(e.stderr, "faultline: %s\n", report)
	}
}

// sink is l as the runner takes it: nil stays a nil interface.
func sink(l *live.Live) experiments.LiveSink {
	if l == nil {
		return nil
	}
	return l
}
