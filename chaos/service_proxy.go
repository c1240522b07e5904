package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/faultline-dev/faultline/internal/kube"
)

// A service_* fault puts a Toxiproxy pod in front of a Service's pods
// without touching them or the clients:
//
//  1. an "upstream" Service is created with the Service's own selector and
//     ports: it reaches the Service's pods, and follows them as they come
//     and go, through kube-proxy as the Service did;
//  2. a proxy pod runs `faultline chaos toxiproxy serve` with one proxy per
//     target port, listening on that port and forwarding to the upstream
//     Service, the toxic already added (--proxy, --toxic);
//  3. once the proxy pod is ready, the Service's selector is replaced by
//     the proxy pod's label, in one JSON patch that first tests the
//     selector is still the one recorded in the ledger.
//
// Revert replaces the selector by the recorded one (again testing that it
// is still the proxy's), waits for the endpoints to leave the proxy pod,
// and deletes the proxy pod and the upstream Service. The target ports keep
// their numbers and names, so only the selector ever changes.

// Labels on what the service_* faults create.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by" // "faultline"
	labelProxy     = "faultline.io/proxy"           // the fault's id: the selector of the moved Service
	labelService   = "faultline.io/service"         // the Service the proxy stands in front of
)

// Bounds on the waits of a service_* fault.
const (
	proxyReadyTimeout = 2 * time.Minute  // the proxy pod scheduled, image there, ready
	endpointsTimeout  = 30 * time.Second // the endpoints following a selector change
	proxyDrain        = 2 * time.Second  // kube-proxy following the endpoints, before the proxy pod goes
)

// proxyPort is one port of the moved Service.
type proxyPort struct {
	Name       string             `json:"name,omitempty"`
	Port       int32              `json:"port"`
	TargetPort intstr.IntOrString `json:"target_port"`
	// Listen is the target port's number: the proxy listens there, under the
	// target port's name if it has one, so the Service's ports stay as they
	// are.
	Listen int32 `json:"listen"`
}

// serviceProxyInjection moves a Service to a Toxiproxy pod and back; the
// ledger records the Service's selector before the move.
type serviceProxyInjection struct {
	Cluster   kubeCluster       `json:"cluster"`
	Namespace string            `json:"namespace"`
	Service   string            `json:"service"`
	Selector  map[string]string `json:"selector"`
	// ProxySelector is the Service's selector during the fault.
	ProxySelector map[string]string `json:"proxy_selector"`
	ProxyPod      string            `json:"proxy_pod"`
	Upstream      string            `json:"upstream_service"`
	APIPort       int32             `json:"api_port"`
	Image         string            `json:"image"`
	Ports         []proxyPort       `json:"ports"`
	Toxic         toxicDef          `json:"toxic"`
	What          string            `json:"what"`
	// Pods are the Service's pods when the fault was resolved, for the plan.
	Pods []string `json:"pods"`
}

var _ Injection = (*serviceProxyInjection)(nil)

func (s *serviceProxyInjection) Describe() string {
	return fmt.Sprintf("%s on Service %s/%s (pods %s) through proxy pod %s", s.What, s.Namespace, s.Service, strings.Join(s.Pods, ", "), s.ProxyPod)
}

// nonce is a short random id for the names of what a fault creates.
func nonce() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// kubeName is prefix-id, the prefix cut so that the name fits in 63.
func kubeName(prefix, id string) string {
	prefix = strings.TrimRight(prefix[:min(len(prefix), 62-len(id))], "-")
	return prefix + "-" + id
}

// planServiceProxy checks that svc can be moved and plans the move,
// touching nothing.
func planServiceProxy(ctx context.Context, c *kube.Client, svc *corev1.Service) (*serviceProxyInjection, error) {
	name := svc.Namespace + "/" + svc.Name
	switch {
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		return nil, fmt.Errorf("Service %s is an ExternalName: it has no pods to stand in front of", name)
	case len(svc.Spec.Selector) == 0:
		return nil, fmt.Errorf("Service %s has no selector (its endpoints are managed by hand): faultline moves a Service by its selector", name)
	case svc.Spec.Selector[labelProxy] != "":
		return nil, fmt.Errorf("Service %s already selects a faultline proxy pod (%s=%s): revert that fault first (faultline chaos cleanup)", name, labelProxy, svc.Spec.Selector[labelProxy])
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	list, err := c.CoreV1().Pods(svc.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, kubeError("list the pods of Service "+name, err)
	}
	var pods []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			pods = append(pods, p)
		}
	}
	if len(pods) == 0 {
		return nil, fmt.Errorf("Service %s selects no running pod (selector %s)", name, sel)
	}
	ports, err := proxyPorts(svc, pods)
	if err != nil {
		return nil, err
	}
	id := nonce()
	inj := &serviceProxyInjection{
		Namespace: svc.Namespace, Service: svc.Name, Selector: maps.Clone(svc.Spec.Selector),
		ProxySelector: map[string]string{labelProxy: id},
		ProxyPod:      kubeName("faultline-proxy-"+svc.Name, id),
		Upstream:      kubeName(svc.Name+"-upstream", id),
		APIPort:       apiPort(ports), Ports: ports,
	}
	for _, p := range pods {
		inj.Pods = append(inj.Pods, p.Name)
	}
	slices.Sort(inj.Pods)
	return inj, nil
}

// proxyPorts resolves the Service's target ports to numbers, from the pods'
// container ports when a target port is a name.
func proxyPorts(svc *corev1.Service, pods []corev1.Pod) ([]proxyPort, error) {
	var out []proxyPort
	for _, sp := range svc.Spec.Ports {
		if sp.Protocol != "" && sp.Protocol != corev1.ProtocolTCP {
			return nil, fmt.Errorf("Service %s/%s port %d is %s: Toxiproxy proxies TCP only", svc.Namespace, svc.Name, sp.Port, sp.Protocol)
		}
		p := proxyPort{Name: sp.Name, Port: sp.Port, TargetPort: sp.TargetPort}
		switch {
		case sp.TargetPort.Type == intstr.String:
			p.Listen = namedPort(pods, sp.TargetPort.StrVal)
			if p.Listen == 0 {
				return nil, fmt.Errorf("Service %s/%s port %d: no container of its pods has a port named %q", svc.Namespace, svc.Name, sp.Port, sp.TargetPort.StrVal)
			}
		case sp.TargetPort.IntVal == 0:
			p.Listen = sp.Port
		default:
			p.Listen = sp.TargetPort.IntVal
		}
		out = append(out, p)
	}
	return out, nil
}

func namedPort(pods []corev1.Pod, name string) int32 {
	for _, p := range pods {
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == name {
					return cp.ContainerPort
				}
			}
		}
	}
	return 0
}

// apiPort is the port of the proxy pod's Toxiproxy API: 8474 unless the
// Service needs it.
func apiPort(ports []proxyPort) int32 {
	p := int32(8474)
	for slices.ContainsFunc(ports, func(x proxyPort) bool { return x.Listen == p }) {
		p++
	}
	return p
}

func (s *serviceProxyInjection) Inject(ctx context.Context, env *Env) error {
	c, err := s.Cluster.client(ctx, env)
	if err != nil {
		return err
	}
	ip, err := s.createUpstream(ctx, c)
	if err != nil {
		return err
	}
	if err := s.createProxyPod(ctx, c, ip); err != nil {
		return err
	}
	if err := waitPodReady(ctx, c, s.Namespace, s.ProxyPod, proxyReadyTimeout); err != nil {
		return err
	}
	if err := s.patchSelector(ctx, c, s.Selector, s.ProxySelector); err != nil {
		return err
	}
	onlyProxy := func(ready, all []string) bool {
		return slices.Equal(ready, []string{s.ProxyPod}) && slices.Equal(all, ready)
	}
	if err := waitEndpoints(ctx, c, s.Namespace, s.Service, onlyProxy); err != nil {
		return fmt.Errorf("the endpoints of Service %s/%s did not move to the proxy pod %s: %w", s.Namespace, s.Service, s.ProxyPod, err)
	}
	return nil
}

// objectMeta is the metadata of what the fault creates.
func (s *serviceProxyInjection) objectMeta(name string, extra map[string]string) metav1.ObjectMeta {
	l := map[string]string{LabelManagedBy: "faultline", labelService: s.Service}
	maps.Copy(l, extra)
	return metav1.ObjectMeta{Name: name, Namespace: s.Namespace, Labels: l}
}

// createUpstream creates the Service the proxy forwards to and returns its
// cluster IP.
func (s *serviceProxyInjection) createUpstream(ctx context.Context, c *kube.Client) (string, error) {
	up := &corev1.Service{ObjectMeta: s.objectMeta(s.Upstream, nil), Spec: corev1.ServiceSpec{Selector: s.Selector}}
	for _, p := range s.Ports {
		up.Spec.Ports = append(up.Spec.Ports, corev1.ServicePort{Name: p.Name, Port: p.Port, TargetPort: p.TargetPort, Protocol: corev1.ProtocolTCP})
	}
	got, err := c.CoreV1().Services(s.Namespace).Create(ctx, up, metav1.CreateOptions{})
	if err != nil {
		return "", kubeError("create the upstream Service "+s.Namespace+"/"+s.Upstream, err)
	}
	return got.Spec.ClusterIP, nil
}

// proxyArgs is the proxy pod's command line: one proxy per target port.
func (s *serviceProxyInjection) proxyArgs(upstreamIP string) ([]string, error) {
	toxic, err := json.Marshal(s.Toxic)
	if err != nil {
		return nil, err
	}
	args := []string{"chaos", "toxiproxy", "serve", "--listen", net.JoinHostPort("0.0.0.0", strconv.Itoa(int(s.APIPort)))}
	seen := map[int32]bool{}
	for _, p := range s.Ports {
		if seen[p.Listen] {
			continue // two Service ports with one target port: one proxy
		}
		seen[p.Listen] = true
		listen := net.JoinHostPort("0.0.0.0", strconv.Itoa(int(p.Listen)))
		upstream := net.JoinHostPort(upstreamIP, strconv.Itoa(int(p.Port)))
		args = append(args, "--proxy", fmt.Sprintf("port-%d=%s=%s", p.Listen, listen, upstream))
	}
	return append(args, "--toxic", string(toxic)), nil
}

func (s *serviceProxyInjection) createProxyPod(ctx context.Context, c *kube.Client, upstreamIP string) error {
	args, err := s.proxyArgs(upstreamIP)
	if err != nil {
		return err
	}
	ctr := corev1.Container{
		Name: "toxiproxy", Image: s.Image, ImagePullPolicy: corev1.PullIfNotPresent,
		Command: []string{"/faultline"}, Args: args,
		SecurityContext: restrictedContainer(),
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi"),
		}},
		Ports: []corev1.ContainerPort{{Name: "toxiproxy-api", ContainerPort: s.APIPort, Protocol: corev1.ProtocolTCP}},
	}
	seen := map[int32]bool{}
	lowPort := false
	for _, p := range s.Ports {
		if seen[p.Listen] {
			continue
		}
		seen[p.Listen] = true
		lowPort = lowPort || p.Listen < 1024
		cp := corev1.ContainerPort{ContainerPort: p.Listen, Protocol: corev1.ProtocolTCP}
		if p.TargetPort.Type == intstr.String {
			cp.Name = p.TargetPort.StrVal // the Service's named target port finds the proxy
		}
		ctr.Ports = append(ctr.Ports, cp)
	}
	ctr.ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(s.Ports[0].Listen)}},
		PeriodSeconds: 1, FailureThreshold: 1,
	}
	pod := &corev1.Pod{
		ObjectMeta: s.objectMeta(s.ProxyPod, s.ProxySelector),
		Spec: corev1.PodSpec{
			Containers:                    []corev1.Container{ctr},
			SecurityContext:               restrictedPod(lowPort),
			TerminationGracePeriodSeconds: new(int64(5)),
			AutomountServiceAccountToken:  new(false),
			EnableServiceLinks:            new(false),
		},
	}
	if _, err := c.CoreV1().Pods(s.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return kubeError("create the proxy pod "+s.Namespace+"/"+s.ProxyPod, err)
	}
	return nil
}

// restrictedContainer is the security context of faultline's containers in
// a cluster: what the "restricted" Pod Security Standard asks, no
// privilege of any kind.
func restrictedContainer() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: new(false),
		ReadOnlyRootFilesystem:   new(true),
		RunAsNonRoot:             new(true),
		RunAsUser:                new(int64(65532)),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// restrictedPod is the pod's security context; a proxy listening below
// port 1024 gets the namespaced, "safe" sysctl that lets a user without
// capabilities bind there.
func restrictedPod(lowPort bool) *corev1.PodSecurityContext {
	sc := &corev1.PodSecurityContext{
		RunAsNonRoot:   new(true),
		RunAsUser:      new(int64(65532)),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	if lowPort {
		sc.Sysctls = []corev1.Sysctl{{Name: "net.ipv4.ip_unprivileged_port_start", Value: "0"}}
	}
	return sc
}

// waitPodReady waits until the pod is ready, and fails early with the
// reason a container cannot start (an image that cannot be pulled).
func waitPodReady(ctx context.Context, c *kube.Client, ns, name string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		pod, err := c.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return kubeError("pod "+ns+"/"+name, err)
		}
		if podReady(pod) {
			return nil
		}
		if why := podStuck(pod); why != "" {
			return fmt.Errorf("pod %s/%s cannot start: %s", ns, name, why)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pod %s/%s not ready after %v (phase %s)", ns, name, timeout, pod.Status.Phase)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podStuck says why a pod's containers cannot start, or "" when they may.
func podStuck(p *corev1.Pod) string {
	if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
		return "it ended (" + string(p.Status.Phase) + ")"
	}
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && stuckReason(w.Reason) {
			return fmt.Sprintf("container %s: %s: %s", cs.Name, w.Reason, w.Message)
		}
		if t := cs.LastTerminationState.Terminated; t != nil {
			return fmt.Sprintf("container %s exited with status %d (%s) %s", cs.Name, t.ExitCode, t.Reason, strings.TrimSpace(t.Message))
		}
	}
	return ""
}

func stuckReason(r string) bool {
	switch r {
	case "ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError", "RunContainerError", "CrashLoopBackOff":
		return true
	}
	return false
}

// patchSelector replaces the Service's selector by to, in one JSON patch
// that first tests that it is still from.
func (s *serviceProxyInjection) patchSelector(ctx context.Context, c *kube.Client, from, to map[string]string) error {
	patch, err := json.Marshal([]map[string]any{
		{"op": "test", "path": "/spec/selector", "value": from},
		{"op": "replace", "path": "/spec/selector", "value": to},
	})
	if err != nil {
		return err
	}
	_, err = c.CoreV1().Services(s.Namespace).Patch(ctx, s.Service, types.JSONPatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return kubeError(fmt.Sprintf("set the selector of Service %s/%s to %s", s.Namespace, s.Service, labels.Set(to)), err)
	}
	return nil
}

// waitEndpoints waits until done says yes to the Service's endpoints: the
// pods its EndpointSlices list as ready, and all it lists, sorted.
func waitEndpoints(ctx context.Context, c *kube.Client, ns, svc string, done func(ready, all []string) bool) error {
	ctx, cancel := context.WithTimeout(ctx, endpointsTimeout)
	defer cancel()
	for {
		ready, all, err := endpointPods(ctx, c, ns, svc)
		if err == nil && done(ready, all) {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return err
			}
			return fmt.Errorf("after %v the endpoints are %v (ready %v)", endpointsTimeout, all, ready)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func endpointPods(ctx context.Context, c *kube.Client, ns, svc string) (ready, all []string, err error) {
	list, err := c.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	if err != nil {
		return nil, nil, kubeError("list the endpoints of Service "+ns+"/"+svc, err)
	}
	for _, sl := range list.Items {
		for _, ep := range sl.Endpoints {
			if ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" {
				continue
			}
			all = append(all, ep.TargetRef.Name)
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				ready = append(ready, ep.TargetRef.Name)
			}
		}
	}
	slices.Sort(ready)
	slices.Sort(all)
	return slices.Compact(ready), slices.Compact(all), nil
}

func (s *serviceProxyInjection) Revert(ctx context.Context, env *Env) (string, error) {
	c, err := s.Cluster.client(ctx, env)
	if err != nil {
		return "", err
	}
	note, moved, err := s.restoreSelector(ctx, c)
	if err != nil {
		return "", err
	}
	var notes []string
	notes = append(notes, note)
	// Wait for the endpoints to leave the proxy pod before deleting it, so
	// that no new connection is sent to a pod on its way out.
	gone := func(_, all []string) bool { return !slices.Contains(all, s.ProxyPod) }
	if err := waitEndpoints(ctx, c, s.Namespace, s.Service, gone); err != nil {
		notes = append(notes, "warning: the endpoints still list the proxy pod: "+err.Error())
	}
	// kube-proxy applies the endpoints a moment after they change: give it
	// that moment, so that no connection opened meanwhile meets a proxy on
	// its way out.
	if moved {
		select {
		case <-ctx.Done():
		case <-time.After(proxyDrain):
		}
	}
	del, err := s.deleteCreated(ctx, c)
	if err != nil {
		return "", err
	}
	return strings.Join(append(notes, del), "; "), nil
}

// restoreSelector puts back the recorded selector, if the Service still
// selects the proxy pod; a selector changed by someone else since is an
// error, left as it is.
func (s *serviceProxyInjection) restoreSelector(ctx context.Context, c *kube.Client) (note string, moved bool, err error) {
	name := s.Namespace + "/" + s.Service
	svc, err := c.CoreV1().Services(s.Namespace).Get(ctx, s.Service, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Sprintf("Service %s is gone", name), false, nil
	case err != nil:
		return "", false, kubeError("get Service "+name, err)
	case maps.Equal(svc.Spec.Selector, s.Selector):
		return fmt.Sprintf("Service %s already selects %s", name, labels.Set(s.Selector)), false, nil
	case !maps.Equal(svc.Spec.Selector, s.ProxySelector):
		return "", false, fmt.Errorf("Service %s selects %s, neither its own %s nor the proxy's %s: changed by someone else, left as it is",
			name, labels.Set(svc.Spec.Selector), labels.Set(s.Selector), labels.Set(s.ProxySelector))
	}
	if err := s.patchSelector(ctx, c, s.ProxySelector, s.Selector); err != nil {
		return "", false, err
	}
	return fmt.Sprintf("Service %s selects %s again", name, labels.Set(s.Selector)), true, nil
}

// deleteCreated deletes the proxy pod and the upstream Service; either
// already gone is fine.
func (s *serviceProxyInjection) deleteCreated(ctx context.Context, c *kube.Client) (string, error) {
	var errs []error
	grace := metav1.DeleteOptions{GracePeriodSeconds: new(int64(2))}
	if err := c.CoreV1().Pods(s.Namespace).Delete(ctx, s.ProxyPod, grace); err != nil && !apierrors.IsNotFound(err) {
		errs = append(errs, kubeError("delete the proxy pod "+s.Namespace+"/"+s.ProxyPod, err))
	}
	if err := c.CoreV1().Services(s.Namespace).Delete(ctx, s.Upstream, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		errs = append(errs, kubeError("delete the upstream Service "+s.Namespace+"/"+s.Upstream, err))
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	return fmt.Sprintf("deleted proxy pod %s and Service %s", s.ProxyPod, s.Upstream), nil
}
