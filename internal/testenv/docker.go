// Package testenv gates tests on the real components they need.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// RequireDockerEnv is the variable that turns a missing Docker Engine from a
// skip into a failure; .ci/run sets it so Docker tests always run in CI.
const RequireDockerEnv = "FAULTLINE_REQUIRE_DOCKER"

// DockerHost returns the engine address tests should use: DOCKER_HOST when
// set, else the default unix socket.
func DockerHost() string {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return "unix:///var/run/docker.sock"
}

// Docker skips t when no Docker Engine answers at DockerHost, or fails it
// when FAULTLINE_REQUIRE_DOCKER=1. It pings the engine with plain HTTP so
// that only package chaos imports the Docker SDK.
func Docker(t testing.TB) {
	t.Helper()
	host := DockerHost()
	if err := pingDocker(host); err != nil {
		if os.Getenv(RequireDockerEnv) == "1" {
			t.Fatalf("Docker Engine required (%s=1) but not reachable at %s: %v", RequireDockerEnv, host, err)
		}
		t.Skipf("Docker Engine not reachable at %s (%v); set %s=1 to make this a failure", host, err, RequireDockerEnv)
	}
}

func pingDocker(host string) error {
	u, err := url.Parse(host)
	if err != nil {
		return err
	}
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		switch u.Scheme {
		case "unix":
			return d.DialContext(ctx, "unix", u.Path)
		default:
			return d.DialContext(ctx, "tcp", u.Host)
		}
	}
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DialContext: dial}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("http://docker/_ping")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &pingError{status: resp.Status}
	}
	return nil
}

type pingError struct{ status string }

func (e *pingError) Error() string { return "ping answered " + strings.TrimSpace(e.status) }

// DockerLabels labels everything a Docker test creates: faultline.test=1,
// which CI's leftover checks look for, and a fresh ID under
// faultline.testrun, which the test's cleanup removes by. It returns the
// labels and the ID.
func DockerLabels() (map[string]string, string) {
	var b [6]byte
	rand.Read(b[:])
	run := hex.EncodeToString(b[:])
	return map[string]string{"faultline.test": "1", "faultline.testrun": run}, run
}
