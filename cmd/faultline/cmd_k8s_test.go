package main

import (
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/internal/distrib"
)

// TestK8sManifests: the generators' objects as YAML: the Secret with the
// token from the environment, the headless Service and the Indexed Job of
// N worker pods, all labelled with the run id; no token, exit 2.
func TestK8sManifests(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runCLIEnv(t, map[string]string{distrib.TokenEnv: "s3cret"},
		"k8s", "manifests", "--generators", "3", "--run-id", "r1", "--namespace", "load", "--image", "reg/faultline:1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	docs := strings.Split(stdout, "---\n")
	if len(docs) != 3 {
		t.Fatalf("%d documents, want 3:\n%s", len(docs), stdout)
	}
	for i, want := range []string{"kind: Secret", "kind: Service", "kind: Job"} {
		d := docs[i]
		for _, w := range []string{want, "name: faultline-gen-r1", "namespace: load", "faultline.run: r1"} {
			if !strings.Contains(d, w) {
				t.Errorf("document %d lacks %q:\n%s", i, w, d)
			}
		}
	}
	for _, w := range []string{"token: s3cret"} {
		if !strings.Contains(docs[0], w) {
			t.Errorf("secret lacks %q", w)
		}
	}
	for _, w := range []string{"clusterIP: None", "port: 7070"} {
		if !strings.Contains(docs[1], w) {
			t.Errorf("service lacks %q", w)
		}
	}
	for _, w := range []string{"completionMode: Indexed", "completions: 3", "parallelism: 3", "backoffLimitPerIndex: 0", "maxFailedIndexes: 3", "image: reg/faultline:1", "- worker", "key: token"} {
		if !strings.Contains(docs[2], w) {
			t.Errorf("job lacks %q:\n%s", w, docs[2])
		}
	}
	if strings.Contains(docs[2], "activeDeadlineSeconds") {
		t.Errorf("job has a deadline without --deadline:\n%s", docs[2])
	}
	code, stdout, stderr = runCLIEnv(t, map[string]string{distrib.TokenEnv: "s3cret"},
		"k8s", "manifests", "--generators", "2", "--run-id", "r1", "--deadline", "15m0.5s")
	if code != 0 || !strings.Contains(stdout, "activeDeadlineSeconds: 901") {
		t.Errorf("--deadline 15m0.5s: exit %d, want activeDeadlineSeconds: 901 (rounded up)\n%s%s", code, stdout, stderr)
	}
	if code, _, stderr := runCLIEnv(t, map[string]string{distrib.TokenEnv: "s3cret"}, "k8s", "manifests", "--generators", "2", "--deadline", "-1s"); code != 2 || !strings.Contains(stderr, "--deadline") {
		t.Errorf("--deadline -1s: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, "k8s", "manifests", "--generators", "3"); code != 2 || !strings.Contains(stderr, distrib.TokenEnv) {
		t.Errorf("without a token: exit %d, %q", code, stderr)
	}
}
