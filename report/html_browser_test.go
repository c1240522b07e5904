package report

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// The browser test opens the HTML report in headless Chromium through the
// DevTools protocol, which reports every request the page makes and every
// console message precisely, and takes the screenshot.
const (
	browserWidth  = 1400
	browserHeight = 3000
	// Headless Chromium on a small, busy CI machine can be slow to start.
	browserTimeout = 3 * time.Minute
)

// findChromium returns the Chromium binary, or skips the test when there is
// none, unless FAULTLINE_REQUIRE_CHROMIUM=1 makes that a failure.
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("FAULTLINE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("FAULTLINE_REQUIRE_CHROMIUM") == "1" {
		t.Fatal("no chromium binary found, and FAULTLINE_REQUIRE_CHROMIUM=1")
	}
	t.Skip("no chromium binary found (install the Debian package chromium, or set FAULTLINE_CHROMIUM)")
	return ""
}

// cdpMessage is a DevTools protocol message: a reply (ID) or an event
// (Method).
type cdpMessage struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// browser is one headless Chromium and a page in it.
type browser struct {
	cmd     *exec.Cmd
	ws      *websocket.Conn
	session string
	nextID  int
	events  []cdpMessage
	stderr  lockedBuffer
	done    chan struct{} // closed when stderr is drained
}

func startBrowser(t *testing.T, ctx context.Context, bin string) *browser {
	t.Helper()
	b := &browser{done: make(chan struct{})}
	b.cmd = exec.CommandContext(ctx, bin,
		"--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
		"--remote-debugging-port=0", "--remote-allow-origins=*",
		"--user-data-dir="+t.TempDir(), fmt.Sprintf("--window-size=%d,%d", browserWidth, browserHeight),
		// No name resolves: nothing can leave the machine, and a page that
		// tries fails at once instead of waiting for a timeout.
		"--host-resolver-rules=MAP * ~NOTFOUND",
		"about:blank")
	stderr, err := b.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.close() })
	urlCh := make(chan string, 1)
	go func() {
		defer close(b.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			b.stderr.WriteString(line + "\n")
			if u, ok := strings.CutPrefix(line, "DevTools listening on "); ok {
				urlCh <- strings.TrimSpace(u)
			}
		}
	}()
	var wsURL string
	select {
	case wsURL = <-urlCh:
	case <-b.done:
		t.Fatalf("chromium exited before listening:\n%s", b.stderr.String())
	case <-ctx.Done():
		t.Fatalf("chromium did not start in time:\n%s", b.stderr.String())
	}
	cfg, err := websocket.NewConfig(wsURL, "http://127.0.0.1/")
	if err != nil {
		t.Fatal(err)
	}
	if b.ws, err = websocket.DialConfig(cfg); err != nil {
		t.Fatalf("connect to chromium: %v", err)
	}
	var target struct {
		TargetID string `json:"targetId"`
	}
	b.call(t, ctx, "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	b.call(t, ctx, "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached)
	b.session = attached.SessionID
	for _, domain := range []string{"Page", "Network", "Runtime", "Log"} {
		b.call(t, ctx, domain+".enable", nil, nil)
	}
	b.call(t, ctx, "Emulation.setDeviceMetricsOverride", map[string]any{
		"width": browserWidth, "height": browserHeight, "deviceScaleFactor": 1, "mobile": false}, nil)
	return b
}

// receive reads the next message, giving up at the context's deadline.
func (b *browser) receive(ctx context.Context) (cdpMessage, error) {
	if d, ok := ctx.Deadline(); ok {
		_ = b.ws.SetReadDeadline(d)
	}
	var m cdpMessage
	err := websocket.JSON.Receive(b.ws, &m)
	return m, err
}

// call sends a command to the page's session (the browser's before there
// is one) and waits for its reply, keeping the events that arrive meanwhile.
func (b *browser) call(t *testing.T, ctx context.Context, method string, params any, result any) {
	t.Helper()
	b.nextID++
	msg := map[string]any{"id": b.nextID, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if b.session != "" {
		msg["sessionId"] = b.session
	}
	if err := websocket.JSON.Send(b.ws, msg); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	for {
		m, err := b.receive(ctx)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		if m.ID != b.nextID {
			if m.Method != "" {
				b.events = append(b.events, m)
			}
			continue
		}
		if m.Error != nil {
			t.Fatalf("%s: %s", method, m.Error.Message)
		}
		if result != nil {
			if err := json.Unmarshal(m.Result, result); err != nil {
				t.Fatalf("%s: %v", method, err)
			}
		}
		return
	}
}

// waitFor reads events until one called method arrives.
func (b *browser) waitFor(t *testing.T, ctx context.Context, method string) {
	t.Helper()
	for _, e := range b.events {
		if e.Method == method {
			return
		}
	}
	for {
		m, err := b.receive(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", method, err)
		}
		if m.Method != "" {
			b.events = append(b.events, m)
		}
		if m.Method == method {
			return
		}
	}
}

func (b *browser) close() {
	if b.ws != nil {
		_ = websocket.JSON.Send(b.ws, map[string]any{"id": 1 << 20, "method": "Browser.close"})
		b.ws.Close()
	}
	exited := make(chan struct{})
	go func() {
		<-b.done
		_ = b.cmd.Wait()
		close(exited)
	}()
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		_ = b.cmd.Process.Kill()
		<-exited
	}
}

// pageVisit is what the browser saw while loading one page.
type pageVisit struct {
	requests []string // URLs other than the page itself and data: URLs
	console  []string // console messages, exceptions and error log entries
	shot     image.Image
	plots    map[string]image.Rectangle // figure id -> its SVG's box
}

// visit loads the file at path, waits for it to load, and collects what
// happened.
func (b *browser) visit(t *testing.T, ctx context.Context, path string) pageVisit {
	t.Helper()
	b.events = nil
	pageURL := "file://" + path
	b.call(t, ctx, "Page.navigate", map[string]any{"url": pageURL}, nil)
	b.waitFor(t, ctx, "Page.loadEventFired")
	// Anything the page does after load (a timer, a late fetch) shows up
	// in a round trip or two; evaluating the plot boxes is one.
	var eval struct {
		Result struct {
			Value string `json:"value"`
		} `json:"result"`
	}
	b.call(t, ctx, "Runtime.evaluate", map[string]any{"returnByValue": true, "expression": `JSON.stringify(Object.fromEntries(
		[...document.querySelectorAll('figure.plot')].map(f => { const r = f.querySelector('svg').getBoundingClientRect();
		return [f.id, [r.left, r.top, r.right, r.bottom].map(Math.round)]; })))`}, &eval)
	var shot struct {
		Data string `json:"data"`
	}
	b.call(t, ctx, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot)

	v := pageVisit{plots: map[string]image.Rectangle{}}
	if eval.Result.Value != "" {
		var boxes map[string][4]int
		if err := json.Unmarshal([]byte(eval.Result.Value), &boxes); err != nil {
			t.Fatalf("plot boxes %q: %v", eval.Result.Value, err)
		}
		for id, r := range boxes {
			v.plots[id] = image.Rect(r[0], r[1], r[2], r[3])
		}
	}
	raw, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		t.Fatal(err)
	}
	if v.shot, err = png.Decode(bytes.NewReader(raw)); err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if dir := os.Getenv("FAULTLINE_SCREENSHOT_DIR"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, strings.TrimSuffix(filepath.Base(path), ".html")+".png"), raw, 0o644)
	}
	for _, e := range b.events {
		switch e.Method {
		case "Network.requestWillBeSent":
			var p struct {
				Request struct {
					URL string `json:"url"`
				} `json:"request"`
			}
			_ = json.Unmarshal(e.Params, &p)
			if u := p.Request.URL; u != pageURL && !strings.HasPrefix(u, "data:") {
				v.requests = append(v.requests, u)
			}
		case "Runtime.consoleAPICalled":
			var p struct {
				Type string `json:"type"`
				Args []struct {
					Value any `json:"value"`
				} `json:"args"`
			}
			_ = json.Unmarshal(e.Params, &p)
			if p.Type == "error" || p.Type == "assert" || p.Type == "warning" {
				v.console = append(v.console, fmt.Sprintf("console.%s %v", p.Type, p.Args))
			}
		case "Runtime.exceptionThrown":
			v.console = append(v.console, "exception "+string(e.Params))
		case "Log.entryAdded":
			var p struct {
				Entry struct {
					Level, Text, URL string
				} `json:"entry"`
			}
			_ = json.Unmarshal(e.Params, &p)
			if p.Entry.Level == "error" {
				v.console = append(v.console, "log "+p.Entry.Text+" "+p.Entry.URL)
			}
		}
	}
	return v
}

// near reports whether two colours differ by at most tol in every channel.
func near(c color.Color, want color.RGBA, tol int) bool {
	r, g, b, _ := c.RGBA()
	d := func(x uint32, y uint8) bool { v := int(x>>8) - int(y); return v <= tol && v >= -tol }
	return d(r, want.R) && d(g, want.G) && d(b, want.B)
}

// countColor counts the pixels of box close to want.
func countColor(img image.Image, box image.Rectangle, want color.RGBA, tol int) int {
	n := 0
	for y := box.Min.Y; y < box.Max.Y; y++ {
		for x := box.Min.X; x < box.Max.X; x++ {
			if near(img.At(x, y), want, tol) {
				n++
			}
		}
	}
	return n
}

// TestHTMLInChromium opens the report in headless Chromium: it loads
// without a single network request or console error, and its screenshot
// shows three plots that are not blank: the series are drawn in their
// colours inside each plot's box, and the fault window is shaded. A page
// built to misbehave first proves the harness sees requests and errors.
func TestHTMLInChromium(t *testing.T) {
	t.Parallel()
	bin := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	defer cancel()
	dir := t.TempDir()

	bad := filepath.Join(dir, "bad.html")
	if err := os.WriteFile(bad, []byte(`<!DOCTYPE html><html><head><style>@import url("https://fonts.example.com/css");</style></head>
<body><p>bad</p><img src="http://example.com/logo.png"><script>console.error("boom")</script></body></html>`), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "report.html")
	var page bytes.Buffer
	if err := writeHTML(&page, experimentRun(), Options{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, page.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	b := startBrowser(t, ctx, bin)
	v := b.visit(t, ctx, bad)
	if !containsPrefix(v.requests, "http://example.com/logo.png") || !containsPrefix(v.requests, "https://fonts.example.com/css") {
		t.Errorf("the harness missed the bad page's requests: %q", v.requests)
	}
	if !containsSubstring(v.console, "boom") {
		t.Errorf("the harness missed the bad page's console error: %q", v.console)
	}

	v = b.visit(t, ctx, good)
	if len(v.requests) > 0 {
		t.Errorf("the report made network requests: %q", v.requests)
	}
	if len(v.console) > 0 {
		t.Errorf("the report logged errors: %q", v.console)
	}
	if got := v.shot.Bounds().Size(); got.X != browserWidth || got.Y != browserHeight {
		t.Errorf("screenshot is %v, want %dx%d", got, browserWidth, browserHeight)
	}
	faultShade := color.RGBA{R: 0xff, G: 0xdf, B: 0xaf, A: 0xff} // #ff9900 at 31% over white
	for _, want := range []struct {
		id     string
		colors map[string]color.RGBA
	}{
		{"spectrum", map[string]color.RGBA{"baseline": colorP50, "fault": colorP99, "recovery": colorOK}},
		{"latency", map[string]color.RGBA{"p50": colorP50, "p99": colorP99, "max": colorMax, "fault shading": faultShade}},
		{"throughput", map[string]color.RGBA{"ok": colorOK, "errors": colorErrors, "fault shading": faultShade}},
		{"links", map[string]color.RGBA{"edge p99": colorP99, "link": colorLink, "fault shading": faultShade}},
	} {
		box, ok := v.plots[want.id]
		if !ok {
			t.Errorf("no plot %q on the page (plots: %v)", want.id, v.plots)
			continue
		}
		if box.Dx() < 400 || box.Dy() < 150 || !box.In(v.shot.Bounds()) {
			t.Errorf("plot %q box %v: too small or outside the %v screenshot", want.id, box, v.shot.Bounds())
			continue
		}
		for name, c := range want.colors {
			if n := countColor(v.shot, box, c, 24); n < 100 {
				t.Errorf("plot %q: %d pixels of %s (%v), want at least 100: the plot looks blank", want.id, n, name, c)
			}
		}
	}
	if t.Failed() {
		t.Logf("chromium stderr:\n%s", b.stderr.String())
	}
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func containsSubstring(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// lockedBuffer collects chromium's stderr from its reader goroutine while
// the test may print it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) WriteString(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.WriteString(s)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
