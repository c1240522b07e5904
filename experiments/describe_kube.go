package experiments

import (
	"context"
	"fmt"
	"io"
	"reflect"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/targets"
)

// DescribeCluster prints, after Describe, what each Kubernetes fault of the
// plan (pod kinds, scale, service_*) would act on, resolved against the
// cluster the run would use (opts.Kube over targets.kubernetes: faultline
// run --kubeconfig, --context, --namespace): the pods and Services, and
// whether a fault hits every pod of a workload. It changes nothing: a
// fault is resolved as `faultline chaos inject --dry-run` resolves it
// (reads, and the API's server-side dry run of the change). The faults on
// the shop a run deploys cannot be resolved before it runs; the plan says
// what they would pick of its replicas. A fault that cannot be resolved is
// listed with its error, and the first such error is returned.
func (p *Plan) DescribeCluster(ctx context.Context, w io.Writer, opts RunOptions) error {
	var faults []*PlannedFault
	for _, f := range p.Faults {
		if g := faultGroup(f); g == chaos.GroupPod || g == chaos.GroupKubeService {
			faults = append(faults, f)
		}
	}
	if len(faults) == 0 {
		return nil
	}
	e := &environment{plan: p, opts: opts}
	if err := e.checkKube(); err != nil {
		return err
	}
	cfg := e.kubeConfig()
	shop := p.Exp.Targets.kubeShop()
	where := "namespace " + orDefault(cfg.Namespace, "of each fault")
	if cfg.Context != "" {
		where += ", context " + cfg.Context
	}
	if cfg.Kubeconfig != "" {
		where += ", kubeconfig " + cfg.Kubeconfig
	}
	if shop {
		fmt.Fprintf(w, "\nkubernetes faults (%s), on the shop the run deploys there: its pods are picked when each fault starts\n", where)
	} else {
		fmt.Fprintf(w, "\nkubernetes faults (%s), resolved against the cluster now: what each would hit if it started now\n", where)
	}
	s := chaos.NewSession(nil, &chaos.Env{Seed: p.Exp.Seed, Kube: cfg})
	var first error
	for _, f := range faults {
		fault, err := chaos.Copy(f.Fault)
		if err != nil {
			return err
		}
		resolveStrings(reflect.ValueOf(fault).Elem(), e.resolve)
		e.defaultKubeImage(reflect.ValueOf(fault).Elem())
		chaos.BoundStress(fault, f.End-f.Start)
		if shop {
			fmt.Fprintf(w, "  %s: %s%s\n", f.Label(), fault.Describe(), shopPodsNote(p.Exp.Targets, fault))
			continue
		}
		inj, err := s.Plan(ctx, fault)
		if err != nil {
			fmt.Fprintf(w, "  %s: cannot be resolved: %v\n", f.Label(), err)
			if first == nil {
				first = fmt.Errorf("%s: %w", f.Label(), err)
			}
			continue
		}
		fmt.Fprintf(w, "  %s: would %s\n", f.Label(), inj.Describe())
		if faultGroup(f) == chaos.GroupKubeService {
			fmt.Fprintln(w, "    (every pod behind the Service: all the traffic that opens a connection to it crosses the proxy)")
		}
	}
	return first
}

// shopPodsNote says which of the shop's pods a fault would pick: the
// shop's pods carry app: SERVICE, and the run deploys each service with its
// replicas.
func shopPodsNote(t TargetsSpec, f chaos.Fault) string {
	replicas := func(svc string) (int, bool) {
		only, err := targets.CheckServices(t.Only)
		if err != nil || !contains(only, svc) {
			return 0, false
		}
		return max(t.Kubernetes.Replicas[svc], 1), true
	}
	if _, svc, ok := chaos.KubeService(f); ok {
		if n, ok := replicas(svc); ok {
			return fmt.Sprintf("; every pod behind the Service (deployment/%s, %d %s)", svc, n, plural(n, "pod"))
		}
		return ""
	}
	_, lbl, ok := chaos.PlanPods(f, 1)
	if !ok || len(lbl) != 1 || lbl[targets.LabelApp] == "" {
		return ""
	}
	svc := lbl[targets.LabelApp]
	n, ok := replicas(svc)
	if !ok {
		return fmt.Sprintf("; no pod of the shop carries %s=%s", targets.LabelApp, svc)
	}
	picked, _, _ := chaos.PlanPods(f, n)
	if picked >= n {
		return fmt.Sprintf("; hits EVERY pod of deployment/%s (%d of %d pods)", svc, n, n)
	}
	return fmt.Sprintf("; %d of the %d pods of deployment/%s", picked, n, svc)
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
