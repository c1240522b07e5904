package distrib_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/internal/distrib"
	"github.com/faultline-dev/faultline/internal/testenv"
	"github.com/faultline-dev/faultline/loadgen"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// workerProc is a 'faultline worker' process started by a test.
type workerProc struct {
	cmd *exec.Cmd
	ep  distrib.Endpoint
}

// startWorkers starts n worker processes of the built binary on loopback
// ports, holding token; they are killed and waited for at cleanup.
func startWorkers(t *testing.T, n int, token string) []*workerProc {
	t.Helper()
	bin := testenv.BuildFaultline(t)
	var ws []*workerProc
	for i := range n {
		cmd := exec.Command(bin, "worker", "--listen", "127.0.0.1:0", "--name", "w"+string(rune('0'+i)))
		cmd.Env = append(os.Environ(), distrib.TokenEnv+"="+token)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		sc := bufio.NewScanner(out)
		if !sc.Scan() {
			t.Fatalf("worker %d printed nothing", i)
		}
		u, err := url.Parse(strings.TrimPrefix(sc.Text(), distrib.ListeningPrefix))
		if err != nil {
			t.Fatalf("worker %d: %q: %v", i, sc.Text(), err)
		}
		go func() {
			for sc.Scan() {
			}
		}()
		ws = append(ws, &workerProc{cmd: cmd, ep: distrib.Endpoint{URL: u}})
	}
	return ws
}

func endpoints(ws []*workerProc) []distrib.Endpoint {
	var eps []distrib.Endpoint
	for _, w := range ws {
		eps = append(eps, w.ep)
	}
	return eps
}

func token(t *testing.T) string {
	t.Helper()
	tok, err := distrib.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// openSpec is rate/s for d at target u.
func openSpec(t *testing.T, u string, rate float64, d time.Duration) loadgen.Spec {
	t.Helper()
	tg, err := loadgen.NewTarget("GET", u)
	if err != nil {
		t.Fatal(err)
	}
	return loadgen.Spec{Shape: loadgen.Shape{Model: loadgen.Open, Rate: rate, Duration: d},
		Targets: []loadgen.Target{tg}, Tool: "faultline test", Connections: 20, Grace: 5 * time.Second}
}

// TestMergedCountIsTheSchedule: three worker processes together send the
// schedule's requests exactly, each its own share, and the merged
// intervals count every one.
func TestMergedCountIsTheSchedule(t *testing.T) {
	var served atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served.Add(1) }))
	defer target.Close()
	tok := token(t)
	ws := startWorkers(t, 3, tok)
	spec := openSpec(t, target.URL, 301, 2*time.Second)
	var merged int64
	out, err := distrib.Run(context.Background(), distrib.Config{Workers: endpoints(ws), Token: tok, Spec: spec,
		OnInterval: func(iv *loadgen.Stats) { merged += iv.Completed("") }})
	if err != nil {
		t.Fatal(err)
	}
	sched, _ := spec.Shape.Schedule()
	want := sched.(loadgen.OpenSchedule).Planned()
	if out.Degraded() {
		t.Fatalf("degraded: %+v", out.Workers)
	}
	if got := out.Result.Total.Completed(""); got != want || merged != want || out.Result.Total.Scheduled != want || served.Load() != want {
		t.Fatalf("completed %d, merged intervals %d, scheduled %d, served %d; the schedule has %d", got, merged, out.Result.Total.Scheduled, served.Load(), want)
	}
	var sum int64
	for i, w := range out.Workers {
		if w.Scheduled != w.Planned || w.Segment != (loadgen.Segment{Index: i, Count: 3}).String() {
			t.Errorf("worker %d: %+v", i, w)
		}
		sum += w.Planned
	}
	if sum != want {
		t.Errorf("the segments plan %d requests, the schedule %d", sum, want)
	}
}

// TestStrayWorkerCannotJoin: a worker holding another token is refused at
// hello, before anything is sent, and so is a coordinator without it.
func TestStrayWorkerCannotJoin(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer target.Close()
	ws := startWorkers(t, 1, token(t))
	_, err := distrib.Run(context.Background(), distrib.Config{Workers: endpoints(ws), Token: token(t),
		Spec: openSpec(t, target.URL, 10, time.Second)})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("err = %v, want a refusal (401)", err)
	}
}

// TestKilledWorkerIsReported: a worker killed mid-run (SIGKILL: its
// stream breaks; SIGTERM, as when its pod is deleted: it ends its run
// early and says so) is reported with its segment and the share it did not
// send; the others finish and the run ends with their merged data, not as
// an interrupted run.
func TestKilledWorkerIsReported(t *testing.T) {
	for _, sig := range []os.Signal{os.Kill, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) { testKilledWorker(t, sig) })
	}
}

func testKilledWorker(t *testing.T, sig os.Signal) {
	tok := token(t)
	ws := startWorkers(t, 3, tok)
	var served atomic.Int64
	var kill sync.Once
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1) == 150 {
			kill.Do(func() { _ = ws[1].cmd.Process.Signal(sig) })
		}
	}))
	defer target.Close()
	spec := openSpec(t, target.URL, 200, 3*time.Second)
	out, err := distrib.Run(context.Background(), distrib.Config{Workers: endpoints(ws), Token: tok, Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	if !out.Degraded() || out.Result.Interrupted {
		t.Fatalf("degraded %v, interrupted %v: %+v", out.Degraded(), out.Result.Interrupted, out.Workers)
	}
	lost := out.Workers[1]
	if lost.State != distrib.StateDied || lost.Segment != "1/3" || lost.Since.IsZero() {
		t.Fatalf("worker 1: %+v", lost)
	}
	if lost.NotSent <= 0 || lost.Scheduled+lost.NotSent != lost.Planned {
		t.Errorf("worker 1 scheduled %d + not sent %d != planned %d", lost.Scheduled, lost.NotSent, lost.Planned)
	}
	for _, i := range []int{0, 2} {
		if w := out.Workers[i]; w.State != distrib.StateOK || w.Scheduled != w.Planned {
			t.Errorf("worker %d: %+v", i, w)
		}
	}
	if got, want := out.Result.Total.Scheduled+lost.NotSent, int64(600); got != want {
		t.Errorf("scheduled %d + not sent %d = %d, want the schedule's %d", out.Result.Total.Scheduled, lost.NotSent, got, want)
	}
}

// TestSilentWorkerIsReported: a worker that stops talking (SIGSTOP) is
// counted lost after the silence bound, with the time it was last heard.
func TestSilentWorkerIsReported(t *testing.T) {
	tok := token(t)
	ws := startWorkers(t, 2, tok)
	var served atomic.Int64
	var stop sync.Once
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1) == 100 {
			stop.Do(func() { _ = ws[0].cmd.Process.Signal(syscall.SIGSTOP) })
		}
	}))
	defer target.Close()
	t.Cleanup(func() { _ = ws[0].cmd.Process.Signal(syscall.SIGCONT) })
	spec := openSpec(t, target.URL, 100, 3*time.Second)
	out, err := distrib.Run(context.Background(), distrib.Config{Workers: endpoints(ws), Token: tok, Spec: spec, Silence: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	w := out.Workers[0]
	if w.State != distrib.StateSilent || w.Segment != "0/2" || w.NotSent <= 0 {
		t.Fatalf("worker 0: %+v", w)
	}
	if out.Workers[1].State != distrib.StateOK {
		t.Errorf("worker 1: %+v", out.Workers[1])
	}
}

// stallTarget answers every request after base, and holds those that
// arrive from 500ms to 1s after its first request until that second ends:
// a latency distribution fixed by the schedule, not by the machine.
func stallTarget(base time.Duration) *httptest.Server {
	var once sync.Once
	var first time.Time
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		once.Do(func() { first = now })
		if at := now.Sub(first); at >= 500*time.Millisecond && at < time.Second {
			time.Sleep(time.Second - at)
		}
		time.Sleep(base)
	}))
}

// TestMergedPercentilesMatchOneProcess: the same schedule against the
// stall target, run by one process and by three workers, gives the same
// p50 and p99: the segments keep every request's intended time.
func TestMergedPercentilesMatchOneProcess(t *testing.T) {
	one := stallTarget(20 * time.Millisecond)
	defer one.Close()
	opts, err := openSpec(t, one.URL, 200, 2*time.Second).Options()
	if err != nil {
		t.Fatal(err)
	}
	single, err := loadgen.Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	three := stallTarget(20 * time.Millisecond)
	defer three.Close()
	tok := token(t)
	out, err := distrib.Run(context.Background(), distrib.Config{Workers: endpoints(startWorkers(t, 3, tok)), Token: tok,
		Spec: openSpec(t, three.URL, 200, 2*time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	a, b := single.Total.Latency(""), out.Result.Total.Latency("")
	if a.TotalCount() != 400 || b.TotalCount() != 400 {
		t.Fatalf("counts %d and %d, want 400", a.TotalCount(), b.TotalCount())
	}
	// The stall fixes p99 near 480ms and the base p50 near 20ms; what is
	// left is the machine's timing noise, hence the tolerance.
	for _, q := range []float64{50, 99} {
		x, y := time.Duration(a.ValueAtQuantile(q)), time.Duration(b.ValueAtQuantile(q))
		tol := max(x/20, 3*time.Millisecond)
		t.Logf("p%g: one process %s, three workers %s", q, x, y)
		if d := x - y; d > tol || d < -tol {
			t.Errorf("p%g: one process %s, three workers %s: differ by more than %s", q, x, y, tol)
		}
	}
}
