package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/experiments"
	"github.com/faultline-dev/faultline/internal/exitcode"
)

func init() { register("run", newRunCmd) }

const runHelp = `Run an experiment file: start the bundled services (or point at external
ones), create Toxiproxy proxies, drive one load through every phase, check
the steady state before the first fault, inject and revert faults on the
timeline, watch the abort conditions, judge each phase's hypotheses, run the
rollbacks, and write the journal and reports. Every injected fault is
reverted whatever happens; after a SIGKILL, "faultline chaos cleanup" reverts
what the ledger lists.

Comparisons with another phase ("p99 < 2 * baseline.p99") are judged with a
95% bootstrap confidence interval: held, deviated, or inconclusive when the
data cannot tell. The file format is in docs/experiments.md.

With load.generators: N in the file (or --generators N), the load runs on N
generators, each a segment of its schedule: worker processes on this machine,
or with --on kubernetes an Indexed Job of worker pods (recorded in the ledger,
deleted at the end) that this process reaches at their pod IPs. The timeline,
abort conditions and hypotheses see their merged intervals; a generator lost
mid-run is reported and the run exits 5 (docs/distributed.md).

When several things go wrong in one run, the exit code is the first of
6, 130, 2, 5, 4, 3, 1: a fault that could not be reverted outweighs
everything, and an interrupted run is 130 whatever it was doing.

` + liveHelp

func newRunCmd(e *env) *cobra.Command {
	var (
		dryRun, quiet, inconclusiveOK bool
		timeScale                     float64
		ledger, out, image            string
		liveF                         liveFlags
		kube                          chaos.KubeConfig
		gens                          generatorFlags
	)
	cmd := &cobra.Command{
		Use:   "run EXPERIMENT.yaml",
		Short: "Run a chaos experiment: load, steady state, faults on a timeline, verdict",
		Long:  runHelp,
		Example: `  faultline run examples/quickstart.yaml
  faultline run examples/quickstart.yaml --dry-run
  faultline run experiment.yaml --time-scale 0.1 --out results/
  faultline run experiment.yaml --generators 3 --on kubernetes --image faultline/targets:1.2.0
  faultline run experiment.yaml --metrics-addr 127.0.0.1:9464 --prometheus-remote-write http://127.0.0.1:9090/api/v1/write`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tuneGCForLoad(e)
			if err := experiments.CheckTimeScale(timeScale); err != nil {
				return usageErrorf("--time-scale: %v", err)
			}
			if out != "" {
				if err := experiments.CheckReportDir(out); err != nil {
					return usageErrorf("--out: %v", err)
				}
			}
			plan, err := experiments.Open(cmd.Context(), args[0], experiments.Options{TimeScale: timeScale})
			if err != nil {
				return printProblems(e, err)
			}
			if dryRun {
				if err := plan.Describe(e.stdout); err != nil {
					return err
				}
				return plan.DescribeCluster(cmd.Context(), e.stdout, experiments.RunOptions{Image: image, Kube: kube})
			}
			startGens, err := gens.forRun(e, plan.Exp.Load.Generators)
			if err != nil {
				return err
			}
			l, err := liveF.start(e)
			if err != nil {
				return err
			}
			res, err := experiments.Run(cmd.Context(), plan, experiments.RunOptions{
				Log: e.stderr, Progress: !quiet && e.stderrIsTerminal(), LedgerPath: ledger, Dir: out,
				Getenv: e.getenv, Tool: "faultline " + version, InconclusiveOK: inconclusiveOK, Live: sink(l),
				Image: image, Kube: kube, Generators: gens.generators, StartGenerators: startGens,
			})
			stopLive(e, l)
			if err != nil {
				return err
			}
			if err := experiments.WriteSummary(e.stdout, res); err != nil {
				return err
			}
			return exitSilently(res.Code)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&dryRun, "dry-run", false, "print the plan (timeline, faults, probes, hypotheses) and stop; Kubernetes faults are resolved against the cluster (--kubeconfig, --context, --namespace) to list the pods and Services they would hit, changing nothing (exit 5 if one cannot be)")
	f.Float64Var(&timeScale, "time-scale", 1, "multiply every phase, fault and window duration (0.1 runs ten times faster; 0.001 to 1000)")
	f.StringVar(&ledger, "ledger", "", "fault ledger file (default "+chaos.LedgerPathHelp+")")
	f.StringVar(&out, "out", "", "directory for the journal and reports (default from the file, else faultline-out/NAME-TIME)")
	f.BoolVar(&inconclusiveOK, "inconclusive-ok", false, "let inconclusive verdicts pass (by default they fail the gate)")
	f.BoolVarP(&quiet, "quiet", "q", false, "no live progress line")
	liveF.add(f)
	f.StringVar(&image, "image", "", "the targets image of the shop in Docker or Kubernetes mode, instead of the file's")
	f.StringVar(&kube.Kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (instead of targets.kubernetes.kubeconfig; default $KUBECONFIG, else ~/.kube/config; in a pod, its service account)")
	f.StringVar(&kube.Context, "context", "", "kubeconfig context (instead of targets.kubernetes.context)")
	f.StringVar(&kube.Namespace, "namespace", "", "namespace of targets.kubernetes and ${kubernetes.namespace} (and of the worker pods of --on kubernetes), instead of the file's")
	gens.add(f, false)
	return cmd
}

func init() { register("validate", newValidateCmd) }

func newValidateCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "validate EXPERIMENT.yaml...",
		Short: "Check experiment files without running anything",
		Long: `Check experiment files: YAML syntax, unknown fields (with a "did you mean"),
types, references (${targets.X}, proxies, phases), fault settings and every
expression. Each problem is printed as file:line:col: message; the exit code
is 2 if any file has one.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := 0
			for _, path := range args {
				if _, err := experiments.Open(cmd.Context(), path, experiments.Options{}); err != nil {
					bad++
					var problems experiments.Problems
					switch {
					case errors.As(err, &problems):
						printProblems(e, err)
					case exitcode.Of(err) == exitcode.Usage:
						// A file that cannot be read: say so, and go on
						// with the others.
						fmt.Fprintf(e.stderr, "faultline: %v\n", err)
					default:
						return err
					}
					continue
				}
				e.stdout.Write([]byte(path + ": ok\n"))
			}
			if bad > 0 {
				return exitSilently(exitcode.Usage)
			}
			return nil
		},
	}
}

// printProblems prints an experiment file's problems one per line, as
// file:line:col: message, and returns the usage exit code; other errors go
// back as they are.
func printProblems(e *env, err error) error {
	var problems experiments.Problems
	if !errors.As(err, &problems) {
		return err
	}
	for _, p := range problems {
		fmt.Fprintln(e.stderr, p.String())
	}
	return exitSilently(exitcode.Usage)
}
