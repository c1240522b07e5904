package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestLoadChecksOutputsFirst checks that an output path that cannot be
// written is a usage error before a single request is sent, rather than
// after the load has run.
func TestLoadChecksOutputsFirst(t *testing.T) {
	t.Parallel()
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { requests.Add(1) }))
	defer srv.Close()
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-such-folder", "out")
	for _, c := range []struct{ flag, path, want string }{
		{"--hgrm", missing + ".hgrm", "no such file or directory"},
		{"--out", missing + ".json", "no such file or directory"},
		{"--out", dir, "is a directory"},
	} {
		code, _, stderr := runCLI(t, "load", srv.URL+"/", "--rate", "50/s", "--duration", "2s", c.flag, c.path)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s %s: exit %d, stderr %q; want 2 and %q", c.flag, c.path, code, stderr, c.want)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests were sent before the output paths were checked", n)
	}
}

// TestLoadRefusesMissingTLSFiles checks that TLS files that cannot be read
// are a usage error before anything is sent, even when the target is
// plain http and no connection would have used them.
func TestLoadRefusesMissingTLSFiles(t *testing.T) {
	t.Parallel()
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { requests.Add(1) }))
	defer srv.Close()
	missing := filepath.Join(t.TempDir(), "missing.pem")
	for _, flags := range [][]string{{"--cert", missing, "--key", missing}, {"--cacert", missing}} {
		args := append([]string{"load", srv.URL + "/", "--rate", "50/s", "--duration", "2s"}, flags...)
		code, _, stderr := runCLI(t, args...)
		if code != 2 || !strings.Contains(stderr, "no such file") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and the missing file", flags, code, stderr)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests were sent", n)
	}
}
