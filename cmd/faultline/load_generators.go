package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/experiments"
	"github.com/faultline-dev/faultline/internal/distrib"
	"github.com/faultline-dev/faultline/internal/exitcode"
)

// generatorFlags are the flags of load and run for running one load on
// several generators (internal/distrib).
type generatorFlags struct {
	generators          int
	workers, on         string
	maxSendLag, silence time.Duration
	maxClockError       time.Duration
	// load's own cluster flags (run has its own, shared with its targets).
	kube   chaos.KubeConfig
	image  string
	ledger string
}

// Where --on may put the generators.
const (
	onLocal      = "local"
	onKubernetes = "kubernetes"
)

func (g *generatorFlags) add(fl *pflag.FlagSet, forLoad bool) {
	fl.IntVar(&g.generators, "generators", 0, "run the load on N generators, each a segment of the schedule, where --on says; their intervals are merged and judged as one run")
	fl.StringVar(&g.on, "on", onLocal, "with --generators: where the workers run: local (processes started here) or kubernetes (an Indexed Job of worker pods, reached at their pod IPs)")
	fl.DurationVar(&g.maxSendLag, "max-send-lag", distrib.DefaultMaxSendLag, "with generators: flag a generator whose interval send lag p99 exceeds this")
	fl.DurationVar(&g.silence, "worker-timeout", distrib.DefaultSilence, "with generators: count a generator lost after this long without a message")
	fl.DurationVar(&g.maxClockError, "max-clock-error", distrib.DefaultMaxClockError, "with generators: refuse a generator whose clock offset cannot be measured more tightly than this")
	if !forLoad {
		return
	}
	fl.StringVar(&g.workers, "workers", "", "comma-separated URLs of running 'faultline worker's to use as the generators (token in $"+distrib.TokenEnv+")")
	fl.StringVar(&g.kube.Kubeconfig, "kubeconfig", "", "with --on kubernetes: kubeconfig of the cluster (default $KUBECONFIG, else ~/.kube/config)")
	fl.StringVar(&g.kube.Context, "context", "", "with --on kubernetes: kubeconfig context")
	fl.StringVar(&g.kube.Namespace, "namespace", "", "with --on kubernetes: namespace of the worker pods (default the context's)")
	fl.StringVar(&g.image, "image", "", "with --on kubernetes: faultline's image for the worker pods (default faultline/targets:latest)")
	fl.StringVar(&g.ledger, "ledger", "", "with --on kubernetes: the ledger that records the worker pods' objects (default "+chaos.LedgerPathHelp+")")
}

// base is the generators' configuration the flags give, without workers.
func (g *generatorFlags) base() (distrib.Config, error) {
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--max-send-lag", g.maxSendLag}, {"--worker-timeout", g.silence}, {"--max-clock-error", g.maxClockError}} {
		if d.v <= 0 {
			return distrib.Config{}, usageErrorf("%s %s: must be positive", d.flag, d.v)
		}
	}
	return distrib.Config{MaxSendLag: g.maxSendLag, Silence: g.silence, MaxClockError: g.maxClockError}, nil
}

// starter is what starts the workers where --on says.
func (g *generatorFlags) starter(e *env) (experiments.StartGenerators, error) {
	base, err := g.base()
	if err != nil {
		return nil, err
	}
	switch g.on {
	case onLocal:
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		return experiments.LocalGenerators(exe, base, nil), nil
	case onKubernetes:
		return experiments.KubeGenerators(base, nil, 0), nil
	}
	return nil, usageErrorf("--on %q: want %s or %s", g.on, onLocal, onKubernetes)
}

// forRun checks the flags for faultline run, whose experiment asks for
// fileGenerators (load.generators) unless --generators says otherwise.
func (g *generatorFlags) forRun(e *env, fileGenerators int) (experiments.StartGenerators, error) {
	if g.generators < 0 || g.generators > experiments.MaxGenerators {
		return nil, usageErrorf("--generators %d: want 1 to %d", g.generators, experiments.MaxGenerators)
	}
	if g.on != onLocal && g.generators == 0 && fileGenerators == 0 {
		return nil, usageErrorf("--on %s: the experiment runs its load in this process: give --generators N (or load.generators)", g.on)
	}
	return g.starter(e)
}

// config is the generators' configuration for faultline load, or nil for
// a load in this process. The returned func stops the workers it started
// and says what it could not remove.
func (g *generatorFlags) config(ctx context.Context, e *env, segment string, length time.Duration) (*distrib.Config, func() error, error) {
	none := func() error { return nil }
	if g.generators == 0 && g.workers == "" {
		if g.on != onLocal {
			return nil, none, usageErrorf("--on %s: give --generators N", g.on)
		}
		return nil, none, nil
	}
	if segment != "" {
		return nil, none, usageErrorf("--segment is for one generator run by hand; --generators and --workers assign the segments themselves")
	}
	if g.workers != "" {
		base, err := g.base()
		if err != nil {
			return nil, none, err
		}
		return g.remote(e, &base)
	}
	if g.generators < 1 || g.generators > experiments.MaxGenerators {
		return nil, none, usageErrorf("--generators %d: want 1 to %d", g.generators, experiments.MaxGenerators)
	}
	start, err := g.starter(e)
	if err != nil {
		return nil, none, err
	}
	ledger := g.ledger
	if ledger == "" {
		if ledger, err = chaos.DefaultLedgerPath(e.getenv); err != nil {
			return nil, none, exitcode.Wrap(err, exitcode.Usage)
		}
	}
	cfg, stop, err := start(ctx, experiments.GeneratorRequest{
		Count: g.generators, RunID: newRunID(), Kube: g.kube, Image: g.image, LedgerPath: ledger, Length: length,
		Log: func(format string, args ...any) { fmt.Fprintf(e.stderr, format+"\n", args...) },
	})
	if err != nil {
		return nil, none, exitcode.WrapIfNone(err, exitcode.Runtime)
	}
	return cfg, stop, nil
}

// newRunID is a fresh run id, as faultline run makes them.
func newRunID() string {
	var b [4]byte
	rand.Read(b[:])
	return "fl" + hex.EncodeToString(b[:])
}

// remote is the configuration for --workers: their URLs and the token
// from the environment.
func (g *generatorFlags) remote(e *env, cfg *distrib.Config) (*distrib.Config, func() error, error) {
	none := func() error { return nil }
	if g.on != onLocal {
		return nil, none, usageErrorf("--workers and --on %s exclude each other: the workers already run", g.on)
	}
	cfg.Token = e.getenv(distrib.TokenEnv)
	if cfg.Token == "" {
		return nil, none, usageErrorf("--workers: $%s is empty: give the coordinator the token the workers hold", distrib.TokenEnv)
	}
	for _, raw := range strings.Split(g.workers, ",") {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, none, usageErrorf("--workers: %q: want a URL like http://10.0.0.7:7070", raw)
		}
		cfg.Workers = append(cfg.Workers, distrib.Endpoint{URL: u})
	}
	if g.generators != 0 && g.generators != len(cfg.Workers) {
		return nil, none, usageErrorf("--generators %d but --workers lists %d: give one of them, or agree", g.generators, len(cfg.Workers))
	}
	return cfg, none, nil
}
