package main

import (
	"fmt"
	"net"
	"os"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/internal/distrib"
	"github.com/faultline-dev/faultline/internal/stress"
)

func init() { register("worker", newWorkerCmd) }

func newWorkerCmd(e *env) *cobra.Command {
	var listen, name string
	var parentWatch bool
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Serve as one generator of a distributed load (faultline load --workers)",
		Long: `worker is a long-running load generator for a coordinator (faultline load
--generators N or --workers URL,...): the coordinator greets it (checking its
clock and that it holds the run's token), sends it a load, its segment of the
schedule and a start time, and the worker streams each interval's histograms
back. It serves one run at a time and keeps serving until stopped.

The token comes from $` + distrib.TokenEnv + ` (required; never a flag, so it does not
show in the process list). Give every worker and the coordinator the same
fresh token for each run, e.g. ` + "`openssl rand -hex 32`" + `. The protocol is plain
HTTP: keep workers on a network you trust. docs/distributed.md describes it.

Once listening, the worker prints "` + distrib.ListeningPrefix + `URL" on stdout.`,
		Example: `  FAULTLINE_WORKER_TOKEN=$TOKEN faultline worker --listen 0.0.0.0:7070
  FAULTLINE_WORKER_TOKEN=$TOKEN faultline load http://10.0.0.5:8080/ --rate 50000/s --duration 1m \
      --workers http://gen1:7070,http://gen2:7070`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			tuneGCForLoad(e)
			token := e.getenv(distrib.TokenEnv)
			if token == "" {
				return usageErrorf("$%s is empty: the worker needs the run's token", distrib.TokenEnv)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return usageErrorf("--listen %s: %v", listen, err)
			}
			if name == "" {
				name = ln.Addr().String()
			}
			ctx := cmd.Context()
			if parentWatch {
				var stop func()
				ctx, stop = stress.UntilParentEnds(ctx, os.Getppid, parentWatchInterval)
				defer stop()
			}
			w := &distrib.Worker{Token: token, Name: name, Tool: "faultline " + version, Log: e.stderr}
			fmt.Fprintf(e.stdout, "%shttp://%s\n", distrib.ListeningPrefix, ln.Addr())
			return w.Serve(ctx, ln)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", ":7070", "address to listen on (127.0.0.1:0: a free loopback port)")
	cmd.Flags().StringVar(&name, "name", "", "name in the coordinator's reports (default: the listening address)")
	cmd.Flags().BoolVar(&parentWatch, "parent-watch", false, "stop as soon as the parent process ends (set for workers the coordinator starts)")
	return cmd
}
