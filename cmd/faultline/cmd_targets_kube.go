package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/targets"
)

// kubeFlags are the flags of the shop on Kubernetes.
type kubeFlags struct {
	kubernetes bool
	cfg        targets.KubeConfig
	replicas   []string
}

func (k *kubeFlags) add(cmd *cobra.Command, up bool) {
	f := cmd.Flags()
	f.BoolVar(&k.kubernetes, "kubernetes", false, "the shop as Deployments and Services in a Kubernetes namespace")
	f.StringVar(&k.cfg.Namespace, "namespace", "", "with --kubernetes: the namespace, which must exist (default the context's, else default)")
	f.StringVar(&k.cfg.Kubeconfig, "kubeconfig", "", "with --kubernetes: kubeconfig file (default $KUBECONFIG, else ~/.kube/config; in a pod, its service account)")
	f.StringVar(&k.cfg.Context, "context", "", "with --kubernetes: kubeconfig context (default the current one)")
	if up {
		f.StringArrayVar(&k.replicas, "replicas", nil, "with --kubernetes: replicas of a service, name=N (default 1); repeatable")
	}
}

// refuse is a usage error when a Kubernetes flag is given without
// --kubernetes.
func (k *kubeFlags) refuse() error {
	if k.cfg != (targets.KubeConfig{}) || len(k.replicas) > 0 {
		return usageErrorf("--namespace, --kubeconfig, --context and --replicas need --kubernetes")
	}
	return nil
}

func (k *kubeFlags) replicaCounts() (map[string]int, error) {
	pairs, err := parsePairs("replicas", k.replicas)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for name, v := range pairs {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, usageErrorf("--replicas %s=%s: want a whole number", name, v)
		}
		out[name] = n
	}
	return out, nil
}

// runKubeShop deploys the shop and leaves it running, or, with runFor,
// removes it after that long (or at Ctrl-C).
func runKubeShop(ctx context.Context, e *env, cfg targets.Config, only []string, image string, kf kubeFlags, runFor time.Duration) error {
	replicas, err := kf.replicaCounts()
	if err != nil {
		return err
	}
	opts := targets.KubeOptions{
		Kube: kf.cfg, Only: only, Image: image, Replicas: replicas,
		Logger: slog.New(slog.NewTextHandler(e.stderr, nil)),
	}
	if err := opts.Validate(); err != nil {
		return usageErrorf("--%v", err)
	}
	shop, err := targets.StartKube(ctx, cfg, opts)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("targets stopped: %w", ctx.Err())
		}
		return exitcode.Wrap(fmt.Errorf("deploy the shop on Kubernetes: %w", err), exitcode.Runtime)
	}
	printTable(e.stdout, shop.Table())
	if runFor == 0 {
		fmt.Fprintf(e.stderr, "shop running in namespace %s (label %s=%s); remove it with: faultline targets down --kubernetes --namespace %s\n",
			shop.Namespace(), targets.LabelRun, shop.RunID(), shop.Namespace())
		return nil
	}
	fmt.Fprintf(e.stderr, "shop running in namespace %s for %s\n", shop.Namespace(), runFor)
	waitErr := waitUntilDone(ctx, runFor)
	if err := shop.Close(ctx); err != nil {
		return exitcode.Wrap(fmt.Errorf("remove the shop from namespace %s: %w", shop.Namespace(), err), exitcode.Runtime)
	}
	if waitErr != nil {
		return fmt.Errorf("targets stopped: %w", waitErr)
	}
	return nil
}

func newTargetsDownCmd(e *env) *cobra.Command {
	var kf kubeFlags
	cmd := &cobra.Command{
		Use:   "down --kubernetes",
		Short: "Remove the shop deployed on Kubernetes by targets up --kubernetes",
		Long: `Remove, from the namespace, every Deployment and Service labelled
app.kubernetes.io/managed-by=faultline and app.kubernetes.io/part-of=faultline-shop
(what "targets up --kubernetes" and experiments with targets.kubernetes.shop
create), and wait until their pods are gone. Nothing else is touched. The
local and Docker shops stop with the "targets up" that started them.`,
		Example: `  faultline targets down --kubernetes --namespace shop`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !kf.kubernetes {
				return usageErrorf("down removes a shop on Kubernetes: give --kubernetes (the local and Docker shops stop with the targets up that started them)")
			}
			removed, err := targets.StopKube(cmd.Context(), kf.cfg, nil)
			if err != nil {
				return exitcode.Wrap(fmt.Errorf("remove the shop: %w", err), exitcode.Runtime)
			}
			if len(removed) == 0 {
				fmt.Fprintln(e.stdout, "no shop found")
				return nil
			}
			fmt.Fprintf(e.stdout, "removed %s\n", strings.Join(removed, " "))
			return nil
		},
	}
	kf.add(cmd, false)
	return cmd
}
