package chaos

import (
	"context"
	"sync"

	"github.com/faultline-dev/faultline/chaos/docker"
	"github.com/faultline-dev/faultline/internal/kube"
)

// Fault is one configured fault of some kind. It is also the kind's
// configuration: a pointer to the kind's own struct, whose fields (their
// yaml, flag and doc tags) are the kind's fields in an experiment's
// `faults:` entry, on the `faultline chaos` command line, in the JSON
// Schema and in docs/chaos.md. NewFault returns one with every field zero.
//
// A fault is applied in two steps so that nothing is touched before the
// ledger knows how to undo it: Resolve finds the targets (which proxy, which
// containers, which process) without touching anything, and returns an
// Injection; the Injection is written to the ledger, then injected, and
// later reverted, in this process or by `faultline chaos cleanup` in another.
type Fault interface {
	// Kind is the registered name of the fault's kind, such as "latency".
	Kind() string
	// Validate returns every problem with the fault's configuration; a
	// problem with one field is a *FieldError, so that callers can point
	// at that field.
	Validate() []error
	// Describe says what the fault does, in a few words.
	Describe() string
	// Resolve finds what the fault would touch, touching nothing.
	Resolve(ctx context.Context, env *Env) (Injection, error)
}

// Injection is a fault resolved to concrete targets: what to do, where, and
// how to undo it. It is stored in the ledger as JSON, so an Injection decoded
// in a new process can still be reverted.
type Injection interface {
	// Describe says what and where, such as "latency 200ms on proxy db".
	Describe() string
	// Inject applies the fault.
	Inject(ctx context.Context, env *Env) error
	// Revert undoes Inject and returns a note saying what it did. Reverting
	// twice, reverting what was never injected, or reverting a fault whose
	// target is gone is harmless and not an error.
	Revert(ctx context.Context, env *Env) (note string, err error)
}

// Crashable is a service running in this process that a crash fault can
// take down and bring back: Crash closes its listener and live connections,
// Restore listens again on the same address.
type Crashable interface {
	Crash(ctx context.Context) error
	Restore(ctx context.Context) error
}

// Env is what faults resolve against and act on: the Toxiproxy server, the
// Docker Engine, the Kubernetes cluster, the in-process services and the
// seed for picking victims.
type Env struct {
	// ToxiproxyURL is the API of the Toxiproxy server network faults use.
	ToxiproxyURL string
	// ToxiproxyEmbedded says that server lives inside this process, so its
	// faults end with the process; the ledger records it for cleanup.
	ToxiproxyEmbedded bool
	// Services are the in-process services crash faults may target, by name.
	Services map[string]Crashable
	// Seed picks victims among candidates; the same seed picks the same ones.
	Seed uint64
	// ConnectDocker connects to the Docker Engine; nil means docker.Connect,
	// which honours DOCKER_HOST.
	ConnectDocker func(ctx context.Context) (*docker.Engine, error)
	// StressBinary is the static Linux faultline binary that the stress
	// faults copy into containers; empty means this process's executable.
	StressBinary string
	// Kube says which Kubernetes cluster pod faults act on (--kubeconfig,
	// --context); the zero value means $KUBECONFIG or ~/.kube/config and
	// its current context, or the in-cluster account in a pod. A revert
	// from the ledger with the zero value reaches the cluster as the
	// injecting process did.
	Kube kube.Config

	mu     sync.Mutex
	engine *docker.Engine
	kubes  map[kube.Config]*kube.Client // one client per config, made on first use
}

// docker returns the engine, connecting on first use.
func (e *Env) docker(ctx context.Context) (*docker.Engine, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.engine != nil {
		return e.engine, nil
	}
	connect := e.ConnectDocker
	if connect == nil {
		connect = docker.Connect
	}
	eng, err := connect(ctx)
	if err != nil {
		return nil, err
	}
	e.engine = eng
	return eng, nil
}

// Close releases the connection to the Docker Engine, if one was made.
func (e *Env) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.engine == nil {
		return nil
	}
	err := e.engine.Close()
	e.engine = nil
	return err
}
