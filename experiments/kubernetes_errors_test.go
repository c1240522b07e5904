package experiments

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/targets"
)

// podKillOnWeb sends its load to TARGET and kills pods of app=web in
// NAMESPACE in its second phase.
const podKillOnWeb = `name: pod kill on web
targets:
  external:
    web: TARGET
load:
  rate: 20/s
  requests:
    - url: ${targets.web}/
phases:
  - name: baseline
    duration: 1s
  - name: kill
    duration: 2s
    faults:
      - {kind: pod_kill, namespace: NAMESPACE, labels: {app: web}}
`

// podKillExperiment is podKillOnWeb at a local server that answers 200,
// on namespace ns.
func podKillExperiment(t *testing.T, ns string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	return strings.NewReplacer("TARGET", srv.URL, "NAMESPACE", ns).Replace(podKillOnWeb)
}

// unreachableKubeconfig writes a kubeconfig whose API server is a
// loopback port nothing listens on.
func unreachableKubeconfig(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://%s", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: default}}]
current-context: x
`, addr)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestKubeRunClusterErrors: a kubeconfig that does not exist, or lacks the
// context named, is known before anything runs: one line naming the fault
// and the error, exit 2. An API server nobody answers at is known when the
// fault is due: one line naming the fault, exit 5, nothing in the ledger.
// No cluster is needed.
func TestKubeRunClusterErrors(t *testing.T) {
	t.Parallel()
	unreachable := unreachableKubeconfig(t)
	for _, tc := range []struct {
		name string
		kube targets.KubeConfig
		code int
		want []string
	}{
		{"missing kubeconfig", targets.KubeConfig{Kubeconfig: filepath.Join(t.TempDir(), "absent")}, 2,
			[]string{"kill.faults[0] pod_kill: kubernetes: ", "absent"}},
		{"missing context", targets.KubeConfig{Kubeconfig: unreachable, Context: "nope"}, 2,
			[]string{"kill.faults[0] pod_kill: kubernetes: ", `"nope"`}},
		{"unreachable API server", targets.KubeConfig{Kubeconfig: unreachable}, 5,
			[]string{"kill.faults[0] pod_kill", "unreachable"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ledger := filepath.Join(t.TempDir(), "ledger.jsonl")
			res, log := runKubeExperiment(t, podKillExperiment(t, "shop"), RunOptions{Kube: tc.kube, LedgerPath: ledger})
			msg := res.Message
			t.Logf("exit %d: %s", res.Code, msg)
			ok := int(res.Code) == tc.code && !strings.Contains(msg, "\n")
			for _, w := range tc.want {
				ok = ok && strings.Contains(msg, w)
			}
			if !ok {
				t.Errorf("exit %d, message %q: want exit %d, one line with %q\n%s", res.Code, msg, tc.code, tc.want, log)
			}
			if tc.code == 2 && strings.Contains(log, "injected") {
				t.Errorf("a usage error after the run began:\n%s", log)
			}
			assertNoActive(t, ledger)
		})
	}
}

// assertNoActive fails when the ledger at path lists an active entry.
func assertNoActive(t *testing.T, path string) {
	t.Helper()
	l, err := chaos.OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	if active, err := l.Active(); err != nil || len(active) != 0 {
		t.Errorf("%d entries active in the ledger (%v)", len(active), err)
	}
}
