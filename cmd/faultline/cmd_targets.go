package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/targets"
)

func init() { register("targets", newTargetsCmd) }

func newTargetsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "targets",
		Short: "Run the bundled reference services (a small shop) to aim experiments at",
		Long: `The bundled shop: gateway -> catalog -> store and gateway -> orders -> store,
built from the classic patterns (rate limiter, circuit breaker, bulkhead,
retries with backoff, cache-aside with stale fallback, idempotent writes
through a queue, a database with a service-time distribution and a pool).
See docs/targets.md.`,
	}
	cmd.AddCommand(newTargetsUpCmd(e), newTargetsDownCmd(e), newTargetsServeCmd(e), newTargetsImageCmd(e), newTargetsConfigCmd(e))
	return cmd
}

// configFlags are the flags every targets command reads its config from.
type configFlags struct {
	file string
	sets []string
}

func (c *configFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.file, "config", "", "YAML `file` with a targets: block (see docs/targets.md)")
	cmd.Flags().StringArrayVar(&c.sets, "set", nil, "set one config field, path=value (e.g. store.service_time.median=20ms); repeatable")
}

// load builds the config: defaults, then inline YAML (for serve in a
// container), then the file, then --set; errors exit 2.
func (c *configFlags) load(inline string) (targets.Config, error) {
	cfg, err := targets.BuildConfig(inline, c.file, c.sets)
	if err != nil {
		return targets.Config{}, exitcode.Wrap(err, exitcode.Usage)
	}
	return cfg, nil
}

// parsePairs reads repeated name=value flags.
func parsePairs(flag string, vals []string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range vals {
		k, val, ok := strings.Cut(v, "=")
		if !ok || strings.TrimSpace(k) == "" || strings.TrimSpace(val) == "" {
			return nil, usageErrorf("--%s %q: want name=value", flag, v)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(val)
	}
	return out, nil
}

func printTable(w io.Writer, rows [][3]string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tADDRESS\tURL")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r[0], r[1], r[2])
	}
	tw.Flush()
}

// waitUntilDone blocks until ctx is done or, with a positive d, d has
// passed; it returns the context's error in the first case.
func waitUntilDone(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		<-ctx.Done()
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// targetsUpLong is the long help of 'targets up'.
const targetsUpLong = `Start the shop's services on 127.0.0.1 ports the OS picks, print a table of
services and addresses, and run until Ctrl-C (or --for), then stop cleanly.

With --docker, each service runs as a container (image FROM scratch around
this static binary) on a private network, labelled faultline.run=<id> and
faultline.service=<name> and with this process's pid; every container and
the network are removed on exit, also after an error. After a SIGKILL,
"faultline chaos cleanup" removes them.

With --kubernetes, each service becomes a Deployment and a Service in an
existing namespace (--namespace), labelled app=<name> and
app.kubernetes.io/managed-by=faultline, running the targets image (--image,
default ` + targets.DefaultImage + `; it must be in the cluster's reach), with
a readiness probe on /readyz. Services reach each other at their ClusterIPs.
The command waits until every replica is ready, prints the ClusterIP
addresses and exits, leaving the shop running: "faultline targets down
--kubernetes" removes it (with --for, it is removed after that long). A
failed deploy removes what it created. See docs/kubernetes.md.`

func newTargetsUpCmd(e *env) *cobra.Command {
	var (
		cf        configFlags
		only      []string
		listen    []string
		upstreams []string
		dockerRun bool
		image     string
		binary    string
		runFor    time.Duration
		kf        kubeFlags
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the shop on 127.0.0.1 (in-process, or as containers with --docker) until Ctrl-C, or deploy it on Kubernetes",
		Long:  targetsUpLong,
		Example: `  faultline targets up
  faultline targets up --only store,catalog --set catalog.cache.ttl=2s
  faultline targets up --config shop.yaml --upstream catalog->store=127.0.0.1:9000
  faultline targets up --docker
  faultline targets up --kubernetes --namespace shop --replicas catalog=2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := cf.load("")
			if err != nil {
				return err
			}
			if _, err := targets.CheckServices(only); err != nil {
				return usageErrorf("--only: %v", err)
			}
			if runFor < 0 {
				return usageErrorf("--for: must be >= 0 (got %s)", runFor)
			}
			if kf.kubernetes {
				if dockerRun || len(listen) > 0 || len(upstreams) > 0 || binary != "" {
					return usageErrorf("--docker, --listen, --upstream and --binary do not apply with --kubernetes")
				}
				return runKubeShop(ctx, e, cfg, only, image, kf, runFor)
			}
			if err := kf.refuse(); err != nil {
				return err
			}
			if dockerRun {
				if len(listen) > 0 || len(upstreams) > 0 {
					return usageErrorf("--listen and --upstream do not apply with --docker")
				}
				if binary != "" {
					if err := targets.CheckStaticBinary(binary); err != nil {
						return usageErrorf("--binary: %v", err)
					}
				}
				return runDockerShop(ctx, e, cfg, only, image, binary, runFor)
			}
			if image != "" || binary != "" {
				return usageErrorf("--image and --binary need --docker (--image also goes with --kubernetes)")
			}
			return runLocalShop(ctx, e, cfg, only, listen, upstreams, runFor)
		},
	}
	cf.add(cmd)
	cmd.Flags().StringSliceVar(&only, "only", nil, "services to start (comma-separated): "+strings.Join(targets.Services(), ", "))
	cmd.Flags().StringArrayVar(&listen, "listen", nil, "listen address of a service, name=host:port (default 127.0.0.1:0); repeatable")
	cmd.Flags().StringArrayVar(&upstreams, "upstream", nil, "point a link elsewhere, from->to=addr (e.g. catalog->store=127.0.0.1:9000); repeatable")
	cmd.Flags().BoolVar(&dockerRun, "docker", false, "run each service as a container on a private Docker network")
	cmd.Flags().StringVar(&image, "image", "", "with --docker: use this image instead of building one; with --kubernetes: the image the pods run (default "+targets.DefaultImage+")")
	cmd.Flags().StringVar(&binary, "binary", "", "with --docker: static faultline binary to build the image from (default: this one)")
	cmd.Flags().DurationVar(&runFor, "for", 0, "stop by itself after this long and exit 0 (default: until Ctrl-C; with --kubernetes: leave the shop running)")
	kf.add(cmd, true)
	return cmd
}

// runLocalShop runs the shop in this process until ctx is done or runFor
// has passed. listen and upstreams are the raw name=value flags; they are
// checked before anything starts, so a bad one exits 2 with nothing bound.
func runLocalShop(ctx context.Context, e *env, cfg targets.Config, only, listen, upstreams []string, runFor time.Duration) error {
	var err error
	opts := targets.StartOptions{Only: only, Logger: slog.New(slog.NewTextHandler(e.stderr, nil))}
	if opts.Listen, err = parsePairs("listen", listen); err != nil {
		return err
	}
	if opts.Upstreams, err = parsePairs("upstream", upstreams); err != nil {
		return err
	}
	if err := opts.Validate(); err != nil {
		return exitcode.Wrap(err, exitcode.Usage)
	}
	shop, err := targets.Start(ctx, cfg, opts)
	if err != nil {
		return exitcode.Wrap(err, exitcode.Runtime)
	}
	printTable(e.stdout, shop.Table())
	fmt.Fprintln(e.stderr, "shop running; press Ctrl-C to stop")
	waitErr := waitUntilDone(ctx, runFor)
	shop.Close()
	if waitErr != nil {
		return fmt.Errorf("targets stopped: %w", waitErr)
	}
	return nil
}

func runDockerShop(ctx context.Context, e *env, cfg targets.Config, only []string, image, binary string, runFor time.Duration) error {
	shop, err := targets.StartDocker(ctx, cfg, targets.DockerOptions{
		Only:         only,
		Image:        image,
		ImageOptions: targets.ImageOptions{Binary: binary},
		Logger:       slog.New(slog.NewTextHandler(e.stderr, nil)),
	})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("targets stopped: %w", errors.Join(ctx.Err(), err))
		}
		return exitcode.Wrap(err, exitcode.Runtime)
	}
	printTable(e.stdout, shop.Table())
	fmt.Fprintf(e.stderr, "shop running in containers (label %s=%s); press Ctrl-C to stop\n", targets.LabelRun, shop.RunID())
	waitErr := waitUntilDone(ctx, runFor)
	if err := shop.Close(ctx); err != nil {
		return exitcode.Wrap(fmt.Errorf("clean up containers: %w", err), exitcode.Runtime)
	}
	if waitErr != nil {
		return fmt.Errorf("targets stopped: %w", waitErr)
	}
	return nil
}

func newTargetsServeCmd(e *env) *cobra.Command {
	var (
		cf        configFlags
		addr      string
		upstreams []string
	)
	cmd := &cobra.Command{
		Use:   "serve NAME",
		Short: "Run one service alone (" + strings.Join(targets.Services(), ", ") + ")",
		Long: `Run one service of the shop alone until Ctrl-C or SIGTERM. Its upstreams are
given with --upstream (catalog and orders need store; gateway needs catalog
and orders). The whole config may also come as YAML in the environment
variable ` + targets.ConfigEnv + ` (the Docker mode passes it so); --config and
--set apply on top of it.`,
		Example: `  faultline targets serve store --listen 127.0.0.1:9000
  faultline targets serve catalog --upstream store=127.0.0.1:9000`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			name := args[0]
			if _, err := targets.CheckServices([]string{name}); err != nil {
				return usageErrorf("%v", err)
			}
			cfg, err := cf.load(e.getenv(targets.ConfigEnv))
			if err != nil {
				return err
			}
			ups, err := parsePairs("upstream", upstreams)
			if err != nil {
				return err
			}
			opts := targets.StartOptions{
				Only:      []string{name},
				Listen:    map[string]string{name: addr},
				Upstreams: map[string]string{},
				Logger:    slog.New(slog.NewTextHandler(e.stderr, nil)),
			}
			for k, v := range ups {
				link := k
				if !strings.Contains(k, "->") {
					link = name + "->" + k
				}
				opts.Upstreams[link] = v
			}
			if err := opts.Validate(); err != nil {
				return exitcode.Wrap(err, exitcode.Usage)
			}
			shop, err := targets.Start(ctx, cfg, opts)
			if err != nil {
				return exitcode.Wrap(err, exitcode.Runtime)
			}
			fmt.Fprintf(e.stdout, "%s listening on %s\n", name, shop.URL(name))
			<-ctx.Done()
			shop.Close()
			return fmt.Errorf("%s stopped: %w", name, ctx.Err())
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVar(&addr, "listen", "127.0.0.1:0", "address to listen on")
	cmd.Flags().StringArrayVar(&upstreams, "upstream", nil, "address of an upstream, name=addr (e.g. store=127.0.0.1:9000 or store=http://store:8080); repeatable")
	return cmd
}

func newTargetsImageCmd(e *env) *cobra.Command {
	var opts targets.ImageOptions
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build the targets container image FROM scratch around this static binary",
		Long: `Build a container image FROM scratch containing only the static faultline
binary (CGO_ENABLED=0), through the Docker Engine API. Nothing is pulled, so
no registry is needed. The engine is found through DOCKER_HOST (default
unix:///var/run/docker.sock).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if opts.Binary != "" {
				if err := targets.CheckStaticBinary(opts.Binary); err != nil {
					return usageErrorf("--binary: %v", err)
				}
			}
			id, err := targets.BuildImageWithEngine(ctx, opts)
			if err != nil {
				return exitcode.Wrap(err, exitcode.Runtime)
			}
			tag := opts.Tag
			if tag == "" {
				tag = targets.DefaultImage
			}
			fmt.Fprintf(e.stdout, "%s %s\n", tag, id)
			return nil
		},
	}
	cmd.Flags().StringVar(&opts.Binary, "binary", "", "static faultline binary to put in the image (default: this one)")
	cmd.Flags().StringVar(&opts.Tag, "tag", targets.DefaultImage, "image tag")
	return cmd
}

func newTargetsConfigCmd(e *env) *cobra.Command {
	var cf configFlags
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print the effective targets config as YAML (the defaults when given nothing)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := cf.load("")
			if err != nil {
				return err
			}
			b, err := cfg.YAML()
			if err != nil {
				return err
			}
			_, err = e.stdout.Write(b)
			return err
		},
	}
	cf.add(cmd)
	return cmd
}
