// Package docker is faultline's plumbing to a Docker Engine: build an image
// FROM scratch without pulling anything, run labelled containers on private
// networks, find containers by name, regex or label, and kill, stop, pause,
// restart and remove them.
//
// It is, with package chaos, the only place that imports the Docker SDK. It
// connects with the environment's settings (DOCKER_HOST, DOCKER_CERT_PATH,
// ...) and negotiates the API version, so it works with engines as old as
// 20.10 (API 1.41).
package docker

import (
	"context"
	"errors"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/client"
)

// Engine is a connection to one Docker Engine. It is safe for concurrent use.
type Engine struct {
	cli *client.Client
}

// pingTimeout bounds the first round trip to the engine, so that a missing
// or wedged daemon is reported quickly.
const pingTimeout = 5 * time.Second

// Connect connects to the engine named by the environment (DOCKER_HOST, or
// the default unix socket) and pings it. The error names the host tried.
func Connect(ctx context.Context) (*Engine, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker engine: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	ping, err := cli.Ping(pctx)
	if err != nil {
		host := cli.DaemonHost()
		cli.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connect to docker engine at %s: %w", host, ctx.Err())
		}
		return nil, fmt.Errorf("connect to docker engine at %s: %w", host, err)
	}
	cli.NegotiateAPIVersionPing(ping)
	return &Engine{cli: cli}, nil
}

// Close releases the connection to the engine.
func (e *Engine) Close() error { return e.cli.Close() }

// Host is the address of the engine, such as unix:///var/run/docker.sock.
func (e *Engine) Host() string { return e.cli.DaemonHost() }

// APIVersion is the API version negotiated with the engine.
func (e *Engine) APIVersion() string { return e.cli.ClientVersion() }

// IsNotFound reports whether err says that a container, network or image
// does not exist.
func IsNotFound(err error) bool {
	return err != nil && cerrdefs.IsNotFound(err)
}

// errEmptySelector is returned when a selector would match every container.
var errEmptySelector = errors.New("empty selector: give names, a name regex or labels")
