package targets

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/faultline-dev/faultline/internal/kube"
)

// Labels on what the Kubernetes mode creates. Every Deployment, Service and
// pod of the shop carries app.kubernetes.io/managed-by=faultline,
// app.kubernetes.io/part-of=faultline-shop, app=<service> and
// faultline.run=<run id>; part-of tells the shop from other things faultline
// puts in a cluster (a Toxiproxy in front of a Service), so `targets down`
// removes exactly the shop.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelApp       = "app"
	ManagedBy      = "faultline"
	PartOfShop     = "faultline-shop"
)

// KubeConfig says which cluster to reach: kubeconfig, context and
// namespace (the zero value: $KUBECONFIG or ~/.kube/config, its current
// context and namespace; in a pod, its service account).
type KubeConfig = kube.Config

// KubeOptions says how StartKube deploys the shop.
type KubeOptions struct {
	// Kube is the cluster and, by its Namespace, where the shop goes
	// (default the kubeconfig context's namespace, else "default").
	Kube KubeConfig
	// Client, when set, is used instead of a client made from Kube.
	Client *kube.Client
	// Only lists the services to deploy; empty means all. Each one's
	// upstreams must be deployed too.
	Only []string
	// Image is the targets image, already in the cluster's reach
	// (imagePullPolicy IfNotPresent); empty means DefaultImage.
	Image string
	// Replicas per service; a service not listed gets 1.
	Replicas map[string]int
	// RunID labels everything created (faultline.run=<id>); empty means a
	// random one.
	RunID string
	// Labels are added to every object and pod.
	Labels map[string]string
	// ReadyTimeout bounds the wait for every Deployment to have all its
	// replicas ready; 0 means 2 minutes.
	ReadyTimeout time.Duration
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
}

// KubeShop is the shop deployed as one Deployment and one Service per
// service. Each service reaches its upstreams at their Services' ClusterIPs,
// which faultline passes on the command line (--upstream
// store=http://10.96.0.23:8080): no dependence on cluster DNS, and the
// address survives pods being replaced or a Service being pointed elsewhere.
type KubeShop struct {
	client *kube.Client
	ns     string
	runID  string
	order  []string
	ips    map[string]string
}

// Validate checks the options that need no cluster.
func (o KubeOptions) Validate() error {
	for name, n := range o.Replicas {
		if _, err := CheckServices([]string{name}); err != nil {
			return fmt.Errorf("replicas: %w", err)
		}
		if n < 1 || n > 20 {
			return fmt.Errorf("replicas: %s=%d: want 1 to 20", name, n)
		}
	}
	return nil
}

// StartKube deploys the shop into an existing namespace: first the
// Services (so their ClusterIPs are known), then the Deployments, whose
// pods are ready when /readyz answers. It waits until every Deployment has
// all its replicas ready. On error it removes everything it created.
func StartKube(ctx context.Context, cfg Config, opts KubeOptions) (_ *KubeShop, err error) {
	names, err := dockerServices(cfg, opts.Only)
	if err != nil {
		return nil, err
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if cfg.Links.MaxConnAge == 0 {
		// Pooled connections must follow a Service that moves (a service_*
		// fault), which kept-alive ones do not: see LinksConfig.
		cfg.Links.MaxConnAge = KubeMaxConnAge
	}
	cfgYAML, err := cfg.YAML()
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c, err := connectKube(ctx, opts.Kube, opts.Client)
	if err != nil {
		return nil, err
	}
	k := &KubeShop{client: c, ns: c.Namespace, runID: opts.RunID, ips: map[string]string{}}
	if k.runID == "" {
		var b [4]byte
		rand.Read(b[:])
		k.runID = hex.EncodeToString(b[:])
	}
	if err := k.checkFree(ctx, names); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, k.Close(context.WithoutCancel(ctx)))
		}
	}()
	lbl := maps.Clone(opts.Labels)
	if lbl == nil {
		lbl = map[string]string{}
	}
	maps.Copy(lbl, map[string]string{LabelManagedBy: ManagedBy, LabelPartOf: PartOfShop, LabelRun: k.runID})
	for _, n := range names {
		ip, err := k.createService(ctx, n, lbl)
		if err != nil {
			return nil, err
		}
		k.ips[n], k.order = ip, append(k.order, n)
		logger.Info("service created", "service", n, "namespace", k.ns, "clusterIP", ip)
	}
	image := opts.Image
	if image == "" {
		image = DefaultImage
	}
	for _, n := range names {
		replicas := max(opts.Replicas[n], 1)
		if err := k.createDeployment(ctx, n, image, int32(replicas), lbl, cfgYAML); err != nil {
			return nil, err
		}
		logger.Info("deployment created", "service", n, "replicas", replicas, "image", image)
	}
	if err := k.waitAllReady(ctx, opts.ReadyTimeout); err != nil {
		return nil, err
	}
	return k, nil
}

// connectKube returns c, or a client made from cfg whose API server
// answers; c's namespace gives way to cfg's.
func connectKube(ctx context.Context, cfg KubeConfig, c *kube.Client) (*kube.Client, error) {
	if c == nil {
		var err error
		if c, err = kube.New(cfg); err != nil {
			return nil, err
		}
		if err := c.Ping(ctx); err != nil {
			return nil, err
		}
	}
	if cfg.Namespace != "" && cfg.Namespace != c.Namespace {
		cc := *c
		cc.Namespace = cfg.Namespace
		c = &cc
	}
	return c, nil
}

// checkFree fails, touching nothing, when the namespace is missing or
// already holds a Deployment or Service named like a shop service.
func (k *KubeShop) checkFree(ctx context.Context, names []string) error {
	if _, err := k.client.CoreV1().Namespaces().Get(ctx, k.ns, metav1.GetOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("namespace %q does not exist (create it first: kubectl create namespace %s)", k.ns, k.ns)
		}
		return fmt.Errorf("namespace %q: %w", k.ns, err)
	}
	for _, n := range names {
		_, err := k.client.CoreV1().Services(k.ns).Get(ctx, n, metav1.GetOptions{})
		if err == nil {
			return fmt.Errorf("service %s/%s already exists (a shop deployed before? remove it with: faultline targets down --kubernetes --namespace %s)", k.ns, n, k.ns)
		}
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("service %s/%s: %w", k.ns, n, err)
		}
	}
	return nil
}

func (k *KubeShop) createService(ctx context.Context, name string, lbl map[string]string) (string, error) {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: k.ns, Labels: withApp(lbl, name)},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{LabelApp: name, LabelRun: k.runID},
			Ports: []corev1.ServicePort{{
				Name: "http", Port: ContainerPort, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP,
			}},
		},
	}
	got, err := k.client.CoreV1().Services(k.ns).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("create service %s/%s: %w", k.ns, name, err)
	}
	if ip := got.Spec.ClusterIP; ip == "" || ip == corev1.ClusterIPNone {
		return "", fmt.Errorf("service %s/%s got no ClusterIP", k.ns, name)
	}
	return got.Spec.ClusterIP, nil
}

func withApp(lbl map[string]string, name string) map[string]string {
	out := maps.Clone(lbl)
	out[LabelApp] = name
	return out
}

func (k *KubeShop) createDeployment(ctx context.Context, name, image string, replicas int32, lbl map[string]string, cfgYAML []byte) error {
	podLabels := withApp(lbl, name)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: k.ns, Labels: podLabels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelApp: name, LabelRun: k.runID}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec:       k.podSpec(name, image, cfgYAML),
			},
		},
	}
	if _, err := k.client.AppsV1().Deployments(k.ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create deployment %s/%s: %w", k.ns, name, err)
	}
	return nil
}

// podSpec runs `faultline targets serve NAME` as an unprivileged user on a
// read-only root, its upstreams at their ClusterIPs, its config in
// FAULTLINE_TARGETS_CONFIG, ready when /readyz answers. There is no
// liveness probe: a pod under a CPU fault must not be restarted for being
// slow, and a restart is what the kubernetes probe watches for.
func (k *KubeShop) podSpec(name, image string, cfgYAML []byte) corev1.PodSpec {
	args := []string{"targets", "serve", name, "--listen", ":" + strconv.Itoa(ContainerPort)}
	for _, up := range upstreamsOf(name) {
		args = append(args, "--upstream", fmt.Sprintf("%s=http://%s:%d", up, k.ips[up], ContainerPort))
	}
	user, no, yes := int64(65534), false, true
	grace := int64(5)
	return corev1.PodSpec{
		TerminationGracePeriodSeconds: &grace,
		AutomountServiceAccountToken:  &no,
		EnableServiceLinks:            &no,
		Containers: []corev1.Container{{
			Name:            name,
			Image:           image,
			ImagePullPolicy: corev1.PullIfNotPresent,
			Args:            args,
			Env:             []corev1.EnvVar{{Name: ConfigEnv, Value: string(cfgYAML)}},
			Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: ContainerPort, Protocol: corev1.ProtocolTCP}},
			ReadinessProbe: &corev1.Probe{
				ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("http")}},
				PeriodSeconds: 2, TimeoutSeconds: 2, FailureThreshold: 2, SuccessThreshold: 1,
			},
			SecurityContext: &corev1.SecurityContext{
				RunAsUser: &user, RunAsNonRoot: &yes, ReadOnlyRootFilesystem: &yes,
				AllowPrivilegeEscalation: &no,
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
		}},
	}
}

// waitAllReady waits, within one timeout (0 means 2 minutes), until every
// Deployment has all its replicas updated and ready, and then until each
// Service answers /readyz at its ClusterIP from here: kube-proxy programs a
// Service's new endpoints a moment after its pods are ready, and a shop
// faultline cannot reach is no target for its load.
func (k *KubeShop) waitAllReady(ctx context.Context, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := k.waitDeployments(rctx, ctx, timeout); err != nil {
		return err
	}
	for _, n := range k.order {
		if err := waitHTTPReady(rctx, k.URL(n)+"/readyz"); err != nil {
			return fmt.Errorf("service %s/%s at %s: %w (faultline reaches Services at their ClusterIPs: run it in the cluster, or where kube-proxy routes them)", k.ns, n, k.URL(n), err)
		}
	}
	return nil
}

// waitHTTPReady polls url until it answers 200 or ctx ends.
func waitHTTPReady(ctx context.Context, url string) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if serr := sleep(ctx, 100*time.Millisecond); serr != nil {
			return fmt.Errorf("not answering: %w", err)
		}
	}
}

// waitDeployments waits until every Deployment has all its replicas
// updated and ready; on timeout the error says what the pods are doing.
func (k *KubeShop) waitDeployments(rctx, ctx context.Context, timeout time.Duration) error {
	for _, n := range k.order {
		for {
			d, err := k.client.AppsV1().Deployments(k.ns).Get(rctx, n, metav1.GetOptions{})
			if err == nil && deploymentReady(d) {
				break
			}
			if err != nil && rctx.Err() != nil {
				// The wait's own deadline cut this read short: that says
				// nothing about the cluster, the pods' state below does.
				err = nil
			}
			if serr := sleep(rctx, 250*time.Millisecond); serr != nil {
				if err == nil {
					err = errors.New(k.podTrouble(context.WithoutCancel(ctx), n))
				}
				return fmt.Errorf("deployment %s/%s not ready within %s: %w", k.ns, n, timeout, err)
			}
		}
	}
	return nil
}

func deploymentReady(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want && s.ReadyReplicas == want && s.Replicas == want
}

// podTrouble says why a service's pods are not ready: each pod's phase and
// its container's waiting or termination reason (ErrImageNeverPull,
// CrashLoopBackOff, ...).
func (k *KubeShop) podTrouble(ctx context.Context, name string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	sel := labels.SelectorFromSet(map[string]string{LabelApp: name, LabelRun: k.runID}).String()
	pods, err := k.client.CoreV1().Pods(k.ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return "list its pods: " + err.Error()
	}
	if len(pods.Items) == 0 {
		return "no pod was created (see kubectl describe replicaset)"
	}
	var out []string
	for _, p := range pods.Items {
		state := string(p.Status.Phase)
		for _, cs := range p.Status.ContainerStatuses {
			switch {
			case cs.State.Waiting != nil:
				state += ", " + cs.State.Waiting.Reason + ": " + cs.State.Waiting.Message
			case cs.State.Terminated != nil:
				state += ", terminated: " + cs.State.Terminated.Reason
			case !cs.Ready:
				state += ", not ready"
			}
		}
		out = append(out, p.Name+" "+state)
	}
	slices.Sort(out)
	return strings.Join(out, "; ")
}

// RunID is the value of the faultline.run label on everything created.
func (k *KubeShop) RunID() string { return k.runID }

// Namespace is where the shop runs.
func (k *KubeShop) Namespace() string { return k.ns }

// Names lists the services in start order.
func (k *KubeShop) Names() []string { return slices.Clone(k.order) }

// Addr is a service's ClusterIP:port, or "".
func (k *KubeShop) Addr(name string) string {
	if ip := k.ips[name]; ip != "" {
		return ip + ":" + strconv.Itoa(ContainerPort)
	}
	return ""
}

// URL is a service's base URL at its ClusterIP, or "".
func (k *KubeShop) URL(name string) string {
	return baseURL(k.Addr(name))
}

// Table returns one row per service: name, ClusterIP address and URL.
func (k *KubeShop) Table() [][3]string {
	return addrTable(k.order, k.Addr)
}

// Close deletes the Deployments and Services of this run (also those of a
// start that failed half-way) and waits until their pods are gone. It uses
// its own time bound, so a cancelled ctx still cleans up.
func (k *KubeShop) Close(ctx context.Context) error {
	_, err := removeKubeShop(ctx, k.client, k.ns, map[string]string{LabelManagedBy: ManagedBy, LabelPartOf: PartOfShop, LabelRun: k.runID})
	return err
}

// StopKube removes every shop faultline deployed in cfg's namespace (whatever its
// run), and nothing else: the Deployments and Services labelled
// app.kubernetes.io/managed-by=faultline and part-of=faultline-shop. It
// waits until their pods are gone and returns what it deleted, as
// "deployment/NAME" and "service/NAME".
func StopKube(ctx context.Context, cfg KubeConfig, client *kube.Client) ([]string, error) {
	c, err := connectKube(ctx, cfg, client)
	if err != nil {
		return nil, err
	}
	namespace := c.Namespace
	if _, err := c.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("namespace %q does not exist", namespace)
		}
		return nil, fmt.Errorf("namespace %q: %w", namespace, err)
	}
	return removeKubeShop(ctx, c, namespace, map[string]string{LabelManagedBy: ManagedBy, LabelPartOf: PartOfShop})
}

// removeKubeShop deletes the Deployments and Services matching set in ns,
// then waits (within the same minute) for the pods matching it to go.
func removeKubeShop(ctx context.Context, c *kube.Client, ns string, set map[string]string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 90*time.Second)
	defer cancel()
	sel := metav1.ListOptions{LabelSelector: labels.SelectorFromSet(set).String()}
	var removed []string
	var errs []error
	deps, err := c.AppsV1().Deployments(ns).List(ctx, sel)
	if err != nil {
		errs = append(errs, fmt.Errorf("list deployments in %s: %w", ns, err))
	} else {
		bg := metav1.DeletePropagationBackground
		for _, d := range deps.Items {
			err := c.AppsV1().Deployments(ns).Delete(ctx, d.Name, metav1.DeleteOptions{PropagationPolicy: &bg})
			if err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete deployment %s/%s: %w", ns, d.Name, err))
				continue
			}
			removed = append(removed, "deployment/"+d.Name)
		}
	}
	svcs, err := c.CoreV1().Services(ns).List(ctx, sel)
	if err != nil {
		errs = append(errs, fmt.Errorf("list services in %s: %w", ns, err))
	} else {
		for _, s := range svcs.Items {
			err := c.CoreV1().Services(ns).Delete(ctx, s.Name, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete service %s/%s: %w", ns, s.Name, err))
				continue
			}
			removed = append(removed, "service/"+s.Name)
		}
	}
	if len(errs) == 0 {
		errs = append(errs, waitPodsGone(ctx, c, ns, sel))
	}
	return removed, errors.Join(errs...)
}

// waitPodsGone polls until no pod matches sel in ns, or ctx ends.
func waitPodsGone(ctx context.Context, c *kube.Client, ns string, sel metav1.ListOptions) error {
	for {
		pods, err := c.CoreV1().Pods(ns).List(ctx, sel)
		if err == nil && len(pods.Items) == 0 {
			return nil
		}
		if serr := sleep(ctx, 250*time.Millisecond); serr != nil {
			if err == nil {
				err = fmt.Errorf("%d pod(s) still there", len(pods.Items))
			}
			return fmt.Errorf("wait for the shop's pods in %s to go: %w", ns, err)
		}
	}
}

// KubeServiceURL is http://CLUSTER-IP:PORT of the Service name in cfg's
// namespace: port is a port number or name of the Service, or empty for its
// first port.
func KubeServiceURL(ctx context.Context, cfg KubeConfig, name, port string) (string, error) {
	c, err := connectKube(ctx, cfg, nil)
	if err != nil {
		return "", err
	}
	svc, err := c.CoreV1().Services(c.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("service %s/%s: %w", c.Namespace, name, err)
	}
	ip := svc.Spec.ClusterIP
	if ip == "" || ip == corev1.ClusterIPNone {
		return "", fmt.Errorf("service %s/%s has no ClusterIP (a headless Service: name a pod address in targets.external instead)", c.Namespace, name)
	}
	for _, p := range svc.Spec.Ports {
		if port == "" || port == p.Name || port == strconv.Itoa(int(p.Port)) {
			return fmt.Sprintf("http://%s:%d", ip, p.Port), nil
		}
	}
	return "", fmt.Errorf("service %s/%s has no port %q", c.Namespace, name, port)
}
