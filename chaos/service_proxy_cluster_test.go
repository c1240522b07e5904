package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/internal/testenv"
)

// TestServiceLatencySwitch puts 100ms of latency on a Service of two pods
// while a fixed-rate load runs through the Service's cluster IP, on a
// keep-alive client, on one that drops its pool every second (as the shop
// on Kubernetes does) and on a client with a new connection per request, and
// reports what each saw during the switch to the proxy and back. It checks
// that new connections see the latency while the fault holds and not after,
// that the Service's selector comes back as it was, and that nothing of the
// fault is left. About 40s (with the image build and import, once).
func TestServiceLatencySwitch(t *testing.T) {
	k := newNetKube(t)
	svc := k.store(t, 2)
	before := k.selectorJSON(t, "store")
	url := fmt.Sprintf("http://%s:80/healthz", svc.Spec.ClusterIP)
	waitServing(t, url)
	ledger := openTestLedger(t)
	s := NewSession(ledger, k.env)
	f := decodeChecked(t, fmt.Sprintf("kind: service_latency\nnamespace: %s\nservice: store\nlatency: 100ms\nimage: %s\n", k.ns, k.image))

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	const rate = 50 // per second, per client
	clients := []string{"keep-alive", "max-age-1s", "new-conn"}
	loads := map[string]chan []sample{}
	for _, name := range clients {
		ch := make(chan []sample, 1)
		loads[name] = ch
		go func() { ch <- switchLoad(ctx, url, rate, name) }()
	}
	pause := func(d time.Duration) { <-time.After(d) } // the load runs meanwhile
	pause(3 * time.Second)
	tInject := time.Now()
	e, err := s.Inject(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	tInjected := time.Now()
	during := k.selectorJSON(t, "store")
	pause(5 * time.Second)
	tRevert := time.Now()
	if err := s.Revert(ctx, e); err != nil {
		t.Fatal(err)
	}
	tReverted := time.Now()
	pause(5 * time.Second)
	stop()
	tEnd := time.Now()

	if after := k.selectorJSON(t, "store"); after != before {
		t.Errorf("selector after revert %s, before %s", after, before)
	}
	if during == before || !strings.Contains(during, labelProxy) {
		t.Errorf("selector during the fault %s: want the proxy's", during)
	}
	k.assertNothingLeft(t)
	assertLedgerEmpty(t, ledger)

	settle := 2 * time.Second // kube-proxy applying the new endpoints
	slow := 100 * time.Millisecond
	t.Logf("switch-in took %v, switch-back %v", tInjected.Sub(tInject).Round(time.Millisecond), tReverted.Sub(tRevert).Round(time.Millisecond))
	for _, name := range clients {
		samples := <-loads[name]
		phases := []struct {
			name     string
			from, to time.Time
		}{
			{"before", tInject.Add(-3 * time.Second), tInject},
			{"switch-in", tInject, tInjected.Add(settle)},
			{"faulted", tInjected.Add(settle), tRevert},
			{"switch-back", tRevert, tReverted.Add(settle)},
			{"after", tReverted.Add(settle), tEnd},
		}
		for _, ph := range phases {
			st := countPhase(samples, ph.from, ph.to, slow)
			t.Logf("%-10s %-11s %s", name, ph.name, st)
			switch {
			case ph.name == "faulted" && name != "keep-alive" && st.slow < st.n*9/10:
				t.Errorf("%s %s: %d of %d requests slow: the latency did not apply to new connections", name, ph.name, st.slow, st.n)
			case (ph.name == "before" || ph.name == "after") && st.slow > st.n/10:
				t.Errorf("%s %s: %d of %d requests slow without the fault", name, ph.name, st.slow, st.n)
			case (ph.name == "before" || ph.name == "faulted" || ph.name == "after") && st.errs > 0:
				t.Errorf("%s %s: %d errors away from a switch", name, ph.name, st.errs)
			}
		}
	}
}

// openTestLedger is a ledger in the test's temporary directory.
func openTestLedger(t *testing.T) *Ledger {
	t.Helper()
	l, err := OpenLedger(filepath.Join(t.TempDir(), "ledger.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func assertLedgerEmpty(t *testing.T, l *Ledger) {
	t.Helper()
	active, err := l.Active()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range active {
		t.Errorf("ledger still lists %s", e.What)
	}
}

// TestServiceToxicSIGKILL kills `faultline chaos inject service_latency`
// with SIGKILL at random instants of its life, ten times, and checks that
// `faultline chaos cleanup` then restores the Service's selector exactly
// and removes the proxy pod and the upstream Service. About 90s.
func TestServiceToxicSIGKILL(t *testing.T) {
	k := newNetKube(t)
	k.store(t, 1)
	before := k.selectorJSON(t, "store")
	bin := testenv.BuildFaultline(t)
	ledger := filepath.Join(t.TempDir(), "ledger.jsonl")
	kubeconfig := testenv.KubeconfigPath()
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	for round := range 10 {
		killAt := time.Duration(r.Int64N(int64(8 * time.Second)))
		inject := exec.Command(bin, "chaos", "inject", "service_latency", "--namespace", k.ns, "--service", "store",
			"--latency", "100ms", "--image", k.image, "--for", "1m", "--kubeconfig", kubeconfig, "--ledger", ledger)
		inject.Env = append(os.Environ(), "FAULTLINE_LEDGER="+ledger)
		if err := inject.Start(); err != nil {
			t.Fatal(err)
		}
		<-time.After(killAt) // the random instant is the point of the test
		inject.Process.Signal(syscall.SIGKILL)
		inject.Wait()
		during := k.selectorJSON(t, "store")
		out, err := exec.Command(bin, "chaos", "cleanup", "--kubeconfig", kubeconfig, "--ledger", ledger).CombinedOutput()
		if err != nil {
			t.Fatalf("round %d (killed after %v): cleanup: %v\n%s", round, killAt, err, out)
		}
		moved := "not moved"
		if during != before {
			moved = "moved"
		}
		t.Logf("round %d: killed after %v, Service %s; cleanup: %s", round, killAt.Round(time.Millisecond), moved, firstLine(string(out)))
		if after := k.selectorJSON(t, "store"); after != before {
			t.Fatalf("round %d: selector after cleanup %s, before %s", round, after, before)
		}
		k.assertNothingLeft(t)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// TestServiceToxicClusterErrors checks that faults the cluster cannot
// take fail before touching anything, as runtime errors (exit 5) that
// say why, and that an injection that fails midway leaves nothing.
func TestServiceToxicClusterErrors(t *testing.T) {
	k := newNetKube(t)
	k.store(t, 1)
	ctx := context.Background()
	_, err := k.c.CoreV1().Services(k.ns).Create(ctx, serviceWithoutSelector(), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := NewSession(openTestLedger(t), k.env)
	for _, tc := range []struct{ yaml, want string }{
		{"namespace: no-such-ns\nservice: store\n", `namespace "no-such-ns" does not exist`},
		{"namespace: " + k.ns + "\nservice: nope\n", "Service " + k.ns + "/nope does not exist"},
		{"namespace: " + k.ns + "\nservice: manual\n", "has no selector"},
	} {
		f := decodeChecked(t, "kind: service_latency\nlatency: 100ms\n"+tc.yaml)
		_, err := s.Plan(ctx, f)
		if err == nil || !strings.Contains(err.Error(), tc.want) || exitcode.Of(err) != exitcode.Runtime {
			t.Errorf("%q: %v (exit %d), want %q, exit 5", tc.yaml, err, exitcode.Of(err), tc.want)
		}
	}
	// The plan (--dry-run) names the Service and its pods, touching nothing.
	pods := k.podNames(t, "app=store")
	plan, err := s.Plan(ctx, decodeChecked(t, "kind: service_latency\nlatency: 100ms\nnamespace: "+k.ns+"\nservice: store\n"))
	if err != nil || !strings.Contains(plan.Describe(), "on Service "+k.ns+"/store (pods "+strings.Join(pods, ", ")+")") {
		t.Errorf("plan %v, %v: want the Service and its pods %v", plan, err, pods)
	}
	k.assertNothingLeft(t)
	// An image the node cannot have: the proxy pod never starts, the
	// injection fails and is reverted at once.
	before := k.selectorJSON(t, "store")
	f := decodeChecked(t, "kind: service_latency\nlatency: 100ms\nnamespace: "+k.ns+"\nservice: store\nimage: Faultline/NO-SUCH:image\n")
	_, err = s.Inject(ctx, f)
	if err == nil || !strings.Contains(err.Error(), "cannot start") {
		t.Errorf("inject with an image that cannot be: %v", err)
	}
	if after := k.selectorJSON(t, "store"); after != before {
		t.Errorf("selector after a failed injection %s, before %s", after, before)
	}
	k.assertNothingLeft(t)
}
