package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestChaosKubeBadInput runs the Kubernetes kinds on bad input, without a
// cluster: no namespace or selector, a kubeconfig that does not exist
// (known before anything: exit 2) and an API server nobody answers at
// (exit 5); each is one line naming the kind, and nothing is recorded.
func TestChaosKubeBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "absent")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	unreachable := filepath.Join(dir, "kubeconfig")
	cfg := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://%s\"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n", addr)
	if err := os.WriteFile(unreachable, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"pod_kill", "--label", "app=web"}, 2, "namespace"},
		{[]string{"pod_kill", "--namespace", "shop"}, 2, "labels"},
		{[]string{"service_latency", "--namespace", "shop", "--latency", "100ms"}, 2, "service is required"},
		{[]string{"pod_kill", "--namespace", "shop", "--label", "app=web", "--kubeconfig", missing}, 2, "pod_kill: kubernetes: kubeconfig " + missing},
		{[]string{"service_latency", "--namespace", "shop", "--service", "web", "--latency", "100ms", "--kubeconfig", missing}, 2, "service_latency: kubernetes: kubeconfig " + missing},
		{[]string{"pod_cpu_stress", "--namespace", "shop", "--label", "app=web", "--load", "80", "--kubeconfig", missing}, 2, "pod_cpu_stress: kubernetes: kubeconfig " + missing},
		{[]string{"scale", "--namespace", "shop", "--workload", "web", "--replicas", "0", "--kubeconfig", unreachable}, 5, "scale: kubernetes API server https://" + addr + " unreachable"},
		{[]string{"service_latency", "--namespace", "shop", "--service", "web", "--latency", "100ms", "--kubeconfig", unreachable}, 5, "service_latency: kubernetes API server https://" + addr + " unreachable"},
	} {
		ledger := filepath.Join(dir, "ledger.jsonl")
		args := append([]string{"chaos", "inject"}, tc.args...)
		code, _, stderr := runCLIEnv(t, nil, append(args, "--ledger", ledger)...)
		if code != tc.code || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 1 {
			t.Errorf("faultline %s: exit %d, stderr %q: want exit %d and one line with %q", strings.Join(args, " "), code, stderr, tc.code, tc.want)
		}
		if _, err := os.Stat(ledger); err == nil {
			t.Errorf("faultline %s: the ledger was written", strings.Join(args, " "))
		}
	}
}
