package main

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveBuilds()
	os.Exit(code)
}

// TestLoadFirstSignalStopsGracefully runs the real binary: the first SIGINT
// stops the load, prints the summary and exits 130.
func TestLoadFirstSignalStopsGracefully(t *testing.T) {
	t.Parallel()
	bin := testenv.BuildFaultline(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	cmd := exec.Command(bin, "load", srv.URL+"/", "--rate", "100/s", "--duration", "60s")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // let some load run: nothing to poll for
	began := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Fatalf("exit: %v, want 130; stderr %s", err, stderr.String())
	}
	if took := time.Since(began); took > 15*time.Second {
		t.Errorf("took %v to stop after SIGINT", took)
	}
	out := stdout.String()
	if !strings.Contains(out, "interrupted") || !strings.Contains(out, "latency") {
		t.Errorf("no summary after SIGINT:\n%s", out)
	}
}
