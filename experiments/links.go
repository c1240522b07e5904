package experiments

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/report/journal"
)

// Link timing: the load measures the edge, what users see, and a good
// design can hide a fault there completely (the quickstart's cache keeps
// every read off the slow catalog -> store link, so the gateway's p99 does
// not move). To show that the fault was applied and what it did where it
// acts, the runner times each proxy that stands on a link of the bundled
// shop with its own small requests through the proxy, and journals each one.
//
// Why a request through the proxy rather than the services' own metrics:
// store's request histogram times store, not the link (Toxiproxy delays the
// bytes before store sees them), and in the quickstart no request of the
// load crosses the link during the fault at all, so there would be nothing
// to read. A request through the proxy measures the link itself, every
// time, whatever the traffic under test does.

const (
	// linkProbeTimeout bounds one timed request: a link that holds it
	// longer (a timeout toxic, a link down) counts a failed probe. It does
	// not scale with --time-scale, since fault latencies do not either.
	linkProbeTimeout = 2 * time.Second
	// minLinkProbePeriod keeps a scaled-down run from probing in a busy
	// loop.
	minLinkProbePeriod = 50 * time.Millisecond
	// linkProbePath is what the probes ask for: every bundled service
	// answers it, cheaply, without touching its own upstreams.
	linkProbePath = "/healthz"
)

// linkTimer times the run's link proxies until stopped.
type linkTimer struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// linkTarget is one proxy to time.
type linkTarget struct {
	proxy, link, url string
}

// startLinkTimer starts timing every proxy that stands on a link of the
// bundled shop, four times per recording interval (sequentially per proxy:
// a slow link is probed less often, never by requests piling up). It does
// nothing when the run has no such proxy.
func (r *runner) startLinkTimer(interval time.Duration) *linkTimer {
	lt := &linkTimer{}
	var links []linkTarget
	for _, p := range r.plan.Exp.Proxies {
		if addr, ok := r.env.proxyAddr[p.Name]; ok && p.Link != "" {
			links = append(links, linkTarget{proxy: p.Name, link: p.Link, url: "http://" + addr + linkProbePath})
		}
	}
	if len(links) == 0 {
		return lt
	}
	var ctx context.Context
	ctx, lt.cancel = context.WithCancel(context.Background())
	// The timing goroutines get what they need by value, and the journal
	// writer, which is safe for concurrent use: the rest of the runner
	// belongs to the runner's goroutine.
	out := linkOutput{w: r.journal.w, phases: r.plan.Phases, start: r.clock.start}
	period := max(interval/4, minLinkProbePeriod)
	for _, l := range links {
		lt.wg.Add(1)
		go func() {
			defer lt.wg.Done()
			out.timeLink(ctx, l, period)
		}()
	}
	return lt
}

// linkOutput is where link timings go: the journal, dated from the start
// of the load and filed under their phase.
type linkOutput struct {
	w      *journal.Writer
	phases []*Phase
	start  time.Time
}

// stop ends the timing and waits for it; a probe in flight is abandoned
// and not journaled.
func (lt *linkTimer) stop() {
	if lt.cancel != nil {
		lt.cancel()
		lt.wg.Wait()
	}
}

// timeLink probes one link every period until ctx ends, journaling each
// probe. Journal errors are left to the runner's own writes to report: this
// goroutine must not draw on the log under the progress line.
func (o linkOutput) timeLink(ctx context.Context, l linkTarget, period time.Duration) {
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		sent := time.Now()
		status, err := probeLink(ctx, client, l.url)
		took := time.Since(sent)
		if ctx.Err() != nil {
			return
		}
		offset := sent.Sub(o.start)
		rec := journal.Link{Proxy: l.proxy, Link: l.link, AtMs: ms(offset), LatencyMs: float64(took.Microseconds()) / 1000, Status: status}
		if err != nil {
			rec.Error = err.Error()
		}
		_ = o.w.Write(journal.Record{Type: "link", At: sent, Phase: phaseAt(o.phases, offset).Name, Link: &rec})
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// probeLink sends one GET and reads the whole response.
func probeLink(ctx context.Context, client *http.Client, url string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, linkProbeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("User-Agent", "faultline-link-probe")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return resp.StatusCode, err
	}
	return resp.StatusCode, nil
}
