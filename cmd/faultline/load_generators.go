package main

import (
	"context"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/faultline-dev/faultline/internal/distrib"
)

// generatorFlags are load's flags for running one load on several
// generators (internal/distrib).
type generatorFlags struct {
	generators          int
	workers             string
	maxSendLag, silence time.Duration
	maxClockError       time.Duration
}

func (g *generatorFlags) add(fl *pflag.FlagSet) {
	fl.IntVar(&g.generators, "generators", 0, "run the load on N generators, each a segment of the schedule: N worker processes started here (or the --workers given); their intervals are merged and judged as one run")
	fl.StringVar(&g.workers, "workers", "", "comma-separated URLs of running 'faultline worker's to use as the generators (token in $"+distrib.TokenEnv+")")
	fl.DurationVar(&g.maxSendLag, "max-send-lag", distrib.DefaultMaxSendLag, "with generators: flag a generator whose interval send lag p99 exceeds this")
	fl.DurationVar(&g.silence, "worker-timeout", distrib.DefaultSilence, "with generators: count a generator lost after this long without a message")
	fl.DurationVar(&g.maxClockError, "max-clock-error", distrib.DefaultMaxClockError, "with generators: refuse a generator whose clock offset cannot be measured more tightly than this")
}

// config is the generators' configuration, or nil for a load in this
// process. Worker processes it starts are stopped by the returned func.
func (g *generatorFlags) config(ctx context.Context, e *env, segment string) (*distrib.Config, func(), error) {
	none := func() {}
	if g.generators == 0 && g.workers == "" {
		return nil, none, nil
	}
	if segment != "" {
		return nil, none, usageErrorf("--segment is for one generator run by hand; --generators and --workers assign the segments themselves")
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--max-send-lag", g.maxSendLag}, {"--worker-timeout", g.silence}, {"--max-clock-error", g.maxClockError}} {
		if d.v <= 0 {
			return nil, none, usageErrorf("%s %s: must be positive", d.flag, d.v)
		}
	}
	cfg := &distrib.Config{MaxSendLag: g.maxSendLag, Silence: g.silence, MaxClockError: g.maxClockError}
	if g.workers != "" {
		return g.remote(e, cfg)
	}
	if g.generators < 1 {
		return nil, none, usageErrorf("--generators %d: must be at least 1", g.generators)
	}
	token, err := distrib.NewToken()
	if err != nil {
		return nil, none, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, none, err
	}
	local, err := distrib.StartLocal(ctx, exe, g.generators, token, nil)
	if err != nil {
		return nil, none, err
	}
	cfg.Token, cfg.Workers = token, local.Endpoints
	return cfg, local.Close, nil
}

// remote is the configuration for --workers: their URLs and the token
// from the environment.
func (g *generatorFlags) remote(e *env, cfg *distrib.Config) (*distrib.Config, func(), error) {
	none := func() {}
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
