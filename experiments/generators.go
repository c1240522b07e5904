package experiments

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/internal/distrib"
	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/targets"
)

// GeneratorRequest is what a run asks of a StartGenerators.
type GeneratorRequest struct {
	Count int
	// RunID labels what is started (faultline.run=RunID on Kubernetes).
	RunID string
	// Kube is the cluster in effect (faultline run's flags over the
	// file's targets.kubernetes); Image faultline's image there (empty:
	// targets.DefaultImage); LedgerPath the fault ledger, which records
	// the workers' Kubernetes objects before they are created.
	Kube       targets.KubeConfig
	Image      string
	LedgerPath string
	// Length is how long the load runs (its schedule, or the experiment's
	// timeline); workers on Kubernetes get a deadline of Length plus
	// GeneratorDeadlineMargin, after which Kubernetes ends them even if
	// nothing deletes them. Zero: no deadline.
	Length time.Duration
	// Log receives progress lines.
	Log func(format string, args ...any)
}

// StartGenerators starts the workers of a load on several generators
// (local processes, pods) and returns their configuration (base's, with
// the workers and the token) and the func that stops them, which is called
// however the run ends and says what it could not remove. An error
// carries its exit code.
type StartGenerators func(ctx context.Context, req GeneratorRequest) (*distrib.Config, func() error, error)

// GeneratorDeadlineMargin is added to a load's length for the worker pods'
// deadline: time for the pods to start, the clocks to be synchronised, the
// targets and proxies of an experiment to come up and the last intervals
// to be sent.
const GeneratorDeadlineMargin = 10 * time.Minute

// LocalGenerators starts the workers as processes of exe (the faultline
// binary) on loopback ports, with a fresh token; their logs go to stderr.
func LocalGenerators(exe string, base distrib.Config, stderr io.Writer) StartGenerators {
	return func(ctx context.Context, req GeneratorRequest) (*distrib.Config, func() error, error) {
		token, err := distrib.NewToken()
		if err != nil {
			return nil, nil, err
		}
		local, err := distrib.StartLocal(ctx, exe, req.Count, token, stderr)
		if err != nil {
			return nil, nil, exitcode.WrapIfNone(err, exitcode.Runtime)
		}
		cfg := base
		cfg.Token, cfg.Workers = token, local.Endpoints
		return &cfg, func() error { local.Close(); return nil }, nil
	}
}

// KubeGenerators starts the workers as an Indexed Job of pods on the
// request's cluster (chaos.GeneratorJob: its token in a Secret, every
// object labelled with the run id and recorded in the ledger before it is
// created) and connects to them at their pod IPs: the coordinator must
// reach the pod network (docs/distributed.md). Worker i is the pod of
// completion index i, so its segment is i/N. labels are added to every
// object; readyTimeout bounds the wait for the pods (0: 2 minutes).
func KubeGenerators(base distrib.Config, labels map[string]string, readyTimeout time.Duration) StartGenerators {
	if readyTimeout <= 0 {
		readyTimeout = 2 * time.Minute
	}
	return func(ctx context.Context, req GeneratorRequest) (*distrib.Config, func() error, error) {
		token, err := distrib.NewToken()
		if err != nil {
			return nil, nil, err
		}
		image := req.Image
		if image == "" {
			image = targets.DefaultImage
		}
		job := chaos.GeneratorJob{RunID: req.RunID, Image: image, Count: req.Count, Token: token, Labels: labels, Namespace: req.Kube.Namespace}
		if req.Length > 0 {
			job.Deadline = req.Length + GeneratorDeadlineMargin
		}
		f, err := chaos.NewGenerators(job)
		if err != nil {
			return nil, nil, exitcode.Wrap(err, exitcode.Usage)
		}
		ledger, err := chaos.OpenLedger(req.LedgerPath)
		if err != nil {
			return nil, nil, exitcode.Wrap(err, exitcode.Usage)
		}
		env := &chaos.Env{Kube: req.Kube}
		session := chaos.NewSession(ledger, env)
		entry, err := session.Inject(ctx, f)
		if err != nil {
			env.Close()
			return nil, nil, err
		}
		stop := func() error {
			defer env.Close()
			return session.Revert(context.Background(), entry)
		}
		if req.Log != nil {
			req.Log("generators: %s (ledger entry %s); waiting for the pods", entry.What, entry.ID)
		}
		pods, err := chaos.GeneratorPods(ctx, env, entry, readyTimeout)
		if err != nil {
			return nil, nil, errors.Join(exitcode.WrapIfNone(err, exitcode.Runtime), stop())
		}
		cfg := base
		cfg.Token = token
		for _, p := range pods {
			u := &url.URL{Scheme: "http", Host: fmt.Sprintf("%s:%d", p.IP, chaos.GeneratorPort)}
			cfg.Workers = append(cfg.Workers, distrib.Endpoint{Name: p.Name, URL: u})
		}
		return &cfg, stop, nil
	}
}
