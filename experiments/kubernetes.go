package experiments

import (
	"context"
	"fmt"
	"io"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/targets"
)

// kubeShop reports whether the shop is deployed on Kubernetes.
func (t *TargetsSpec) kubeShop() bool { return t.Kubernetes != nil && t.Kubernetes.Shop }

// dnsLabel is a Kubernetes namespace or Service name.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

func (v *validator) validateKubernetes() {
	t := &v.exp.Targets
	k := t.Kubernetes
	if k == nil {
		return
	}
	const path = "targets.kubernetes"
	switch {
	case k.Namespace == "":
		v.problem(path+".namespace", "required: faultline does not guess a namespace")
	case !dnsLabel.MatchString(k.Namespace):
		v.problem(path+".namespace", "%q is not a namespace name (lower-case letters, digits and -)", k.Namespace)
	}
	if k.Shop && (t.Shop || t.Docker) {
		v.problem(path+".shop", "the shop runs in one place: in-process (shop: true), in Docker (docker: true) or on Kubernetes (kubernetes.shop: true)")
	}
	if !k.Shop && (k.Image != "" || len(k.Replicas) > 0) {
		v.problem(path, "image and replicas apply to the shop: add shop: true")
	}
	if err := (targets.KubeOptions{Replicas: k.Replicas}).Validate(); err != nil {
		v.problem(path+".replicas", "%v", strings.TrimPrefix(err.Error(), "replicas: "))
	}
	for name, ref := range k.Services {
		p := path + ".services." + name
		if k.Shop && contains(targets.Services(), name) {
			v.problem(p+"#key", "%q is a service of the bundled shop; pick another name", name)
		}
		if _, ok := t.External[name]; ok {
			v.problem(p+"#key", "%q is also in targets.external", name)
		}
		svc, port, _ := strings.Cut(ref, ":")
		if !dnsLabel.MatchString(svc) || (strings.Contains(ref, ":") && port == "") {
			v.problem(p, "want SERVICE or SERVICE:PORT, got %q", ref)
		}
	}
}

// withKnownNamespace returns f with ${kubernetes.namespace} replaced by the
// file's namespace, for its kind's checks: a fault naming the namespace
// that way is checked as the file runs by default, and follows faultline run
// --namespace at run time.
func (v *validator) withKnownNamespace(f chaos.Fault) chaos.Fault {
	k := v.exp.Targets.Kubernetes
	if k == nil || k.Namespace == "" {
		return f
	}
	c, err := chaos.Copy(f)
	if err != nil {
		return f
	}
	resolveStrings(reflect.ValueOf(c).Elem(), func(s string) string {
		return strings.ReplaceAll(s, "${kubernetes.namespace}", k.Namespace)
	})
	return c
}

// defaultKubeImage sets an empty image field of a fault (the Service
// faults' Toxiproxy pod, the pod stressors) to the shop's image: the run's
// --image, else targets.kubernetes.image. The cluster that runs the shop can
// run those too, so an experiment names its image once.
func (e *environment) defaultKubeImage(v reflect.Value) {
	image := e.opts.Image
	if k := e.plan.Exp.Targets.Kubernetes; image == "" && k != nil {
		image = k.Image
	}
	if image == "" || v.Kind() != reflect.Struct {
		return
	}
	for i := 0; i < v.NumField(); i++ {
		sf, fv := v.Type().Field(i), v.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		switch {
		case !sf.IsExported():
		case name == "image" && fv.Kind() == reflect.String && fv.String() == "":
			fv.SetString(image)
		case name == "" && fv.Kind() == reflect.Struct:
			e.defaultKubeImage(fv)
		}
	}
}

// kubeConfig is the cluster in effect: the file's, with what the run's
// options (faultline run --kubeconfig, --context, --namespace) give.
func (e *environment) kubeConfig() targets.KubeConfig {
	var cfg targets.KubeConfig
	if k := e.plan.Exp.Targets.Kubernetes; k != nil {
		cfg = targets.KubeConfig{Namespace: k.Namespace, Context: k.Context}
		if k.Kubeconfig != "" {
			cfg.Kubeconfig = e.plan.resolvePath(k.Kubeconfig)
		}
	}
	o := e.opts.Kube
	if o.Kubeconfig != "" {
		cfg.Kubeconfig = o.Kubeconfig
	}
	if o.Context != "" {
		cfg.Context = o.Context
	}
	if o.Namespace != "" {
		cfg.Namespace = o.Namespace
	}
	return cfg
}

// checkKube fails, before anything runs, when the run needs a cluster
// (targets.kubernetes, a pod or Service fault) and its kubeconfig cannot be
// read or lacks the context: one line naming what needs it, exit 2.
// Reaching the API server is left to what needs it (exit 5).
func (e *environment) checkKube() error {
	who := ""
	if e.plan.Exp.Targets.Kubernetes != nil {
		who = "targets.kubernetes"
	}
	for _, f := range e.plan.Faults {
		if g := faultGroup(f); who == "" && (g == chaos.GroupPod || g == chaos.GroupKubeService) {
			who = f.Label()
		}
	}
	if who == "" {
		return nil
	}
	return chaos.CheckKube(who, e.kubeConfig())
}

// startKube gives the kubernetes probes the run's cluster, deploys the
// shop on Kubernetes when the experiment asks for it, and finds the
// ClusterIPs of the Services it names.
func (e *environment) startKube(ctx context.Context) error {
	cfg := e.kubeConfig()
	for _, p := range e.plan.SteadyState {
		if kp, ok := p.Spec.Check.(*KubernetesProbe); ok {
			kp.useCluster(cfg)
		}
	}
	k := e.plan.Exp.Targets.Kubernetes
	if k == nil {
		return nil
	}
	if k.Shop {
		image := e.opts.Image
		if image == "" {
			image = k.Image
		}
		e.say("deploying the shop in namespace %s (run %s)", cfg.Namespace, e.runID)
		// The ledger first, so that chaos cleanup removes the shop after a
		// SIGKILL.
		entry, err := e.session.Inject(ctx, chaos.NewKubeShop(cfg.Namespace, e.runID))
		if err != nil {
			return fmt.Errorf("deploy the bundled shop on Kubernetes: %w", err)
		}
		e.kubeShopEntry = entry
		shop, err := targets.StartKube(ctx, e.plan.Exp.Targets.Config, targets.KubeOptions{
			Kube: cfg, Only: e.plan.Exp.Targets.Only, Image: image, Replicas: k.Replicas, RunID: e.runID,
			Labels: map[string]string{"faultline.experiment": labelValue(e.plan.Exp.Name)},
		})
		if err != nil {
			return fmt.Errorf("deploy the bundled shop on Kubernetes: %w", err)
		}
		e.kube = shop
		for _, row := range shop.Table() {
			e.say("target %-8s %s", row[0], row[2])
		}
	}
	e.kubeURLs = map[string]string{}
	for name, ref := range k.Services {
		svc, port, _ := strings.Cut(ref, ":")
		url, err := targets.KubeServiceURL(ctx, cfg, svc, port)
		if err != nil {
			return fmt.Errorf("targets.kubernetes.services.%s: %w", name, err)
		}
		e.kubeURLs[name] = url
		e.say("target %-8s %s (service %s/%s)", name, url, cfg.Namespace, svc)
	}
	return nil
}

// stopKube removes the shop deployed for the run.
// Its ledger entry is reverted then (which removes what a start that failed
// half-way left, if anything); an entry that cannot be is left to chaos
// cleanup.
func (e *environment) stopKube(ctx context.Context) {
	if e.kube != nil {
		if err := e.kube.Close(ctx); err != nil {
			e.say("faultline: remove the shop from namespace %s: %v", e.kube.Namespace(), err)
		}
		e.kube = nil
	}
	if e.kubeShopEntry != nil {
		if err := e.session.Revert(ctx, e.kubeShopEntry); err != nil {
			e.say("faultline: %v (faultline chaos cleanup removes it)", err)
		}
		e.kubeShopEntry = nil
	}
}

// kubeAddr is ${targets.NAME.addr} of a target on Kubernetes, or "".
func (e *environment) kubeAddr(name string) string {
	if u, ok := e.kubeURLs[name]; ok {
		return strings.TrimPrefix(u, "http://")
	}
	if e.kube != nil {
		return e.kube.Addr(name)
	}
	return ""
}

// describeKubeTargets prints, for --dry-run, the cluster and what is
// deployed or named there.
func describeKubeTargets(w io.Writer, t TargetsSpec) {
	k := t.Kubernetes
	if k == nil {
		return
	}
	where := "namespace " + k.Namespace
	if k.Context != "" {
		where += ", context " + k.Context
	}
	if k.Kubeconfig != "" {
		where += ", kubeconfig " + k.Kubeconfig
	}
	fmt.Fprintf(w, "  kubernetes: %s\n", where)
	if k.Shop {
		only, err := targets.CheckServices(t.Only)
		if err != nil {
			only = t.Only
		}
		var parts []string
		for _, n := range only {
			parts = append(parts, fmt.Sprintf("%s x%d", n, max(k.Replicas[n], 1)))
		}
		fmt.Fprintf(w, "  bundled shop, deployed for the run and removed after: %s (image %s)\n", strings.Join(parts, ", "), orDefault(k.Image, targets.DefaultImage))
	}
	for _, name := range slices.Sorted(maps.Keys(k.Services)) {
		fmt.Fprintf(w, "  %s = service %s (its ClusterIP)\n", name, k.Services[name])
	}
}

// labelValue turns s into a valid Kubernetes label value: at most 63
// letters, digits, '-', '_' or '.', starting and ending with one of the
// first two.
func labelValue(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '-'
		}
	}
	out := strings.Trim(string(b[:min(len(b), 63)]), "-_.")
	if out == "" {
		return "experiment-" + strconv.Itoa(len(s))
	}
	return out
}
