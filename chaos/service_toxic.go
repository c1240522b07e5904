package chaos

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// This file makes every Toxiproxy toxic a fault kind on a Kubernetes
// Service too: registerToxic registers service_<toxic> beside <toxic>, from
// the same attributes struct, so service_latency has exactly latency's
// fields with a Service in place of a proxy. The mechanics (a Toxiproxy pod
// in front of the Service's pods, the Service moved to it) are in
// service_proxy.go.

// DefaultImage is the faultline image the Kubernetes faults run in the
// cluster when a fault does not name one (the tag `faultline targets image`
// builds).
const DefaultImage = "faultline/targets:latest"

// serviceTarget names the Service a service_* fault acts on.
type serviceTarget struct {
	Namespace string `yaml:"namespace,omitempty" doc:"the Service's namespace (required)"`
	Service   string `yaml:"service,omitempty" doc:"the Service's name (required): its selector is moved to a Toxiproxy pod in front of its pods for the fault, and restored on revert"`
	Image     string `yaml:"image,omitempty" default:"faultline/targets:latest" doc:"the faultline image the proxy pod runs (it runs faultline chaos toxiproxy serve); the cluster must be able to pull it or have it on its nodes"`
}

func (t serviceTarget) validate() []error {
	var errs []error
	for _, f := range []struct{ field, value string }{{"namespace", t.Namespace}, {"service", t.Service}} {
		switch {
		case f.value == "":
			errs = append(errs, fieldErrorf(f.field, "%s is required", f.field))
		case len(validation.IsDNS1123Label(f.value)) > 0:
			errs = append(errs, fieldErrorf(f.field, "%s %q: not a Kubernetes name (lower-case letters, digits and '-')", f.field, f.value))
		}
	}
	return errs
}

func (t serviceTarget) image() string {
	if t.Image == "" {
		return DefaultImage
	}
	return t.Image
}

func (t serviceTarget) String() string { return "Service " + t.Namespace + "/" + t.Service }

// registerServiceToxic registers service_<name>, the toxic name on a
// Kubernetes Service.
func registerServiceToxic[A toxicAttrs](name, summary string) {
	kindName := "service_" + name
	registerKind(kind{
		name:         kindName,
		group:        GroupKubeService,
		summary:      summary + ", on a Kubernetes Service (a Toxiproxy pod in front of its pods; its selector moved there and back)",
		newFault:     func() Fault { return &serviceToxicFault[A]{kind: kindName, toxic: name} },
		newInjection: func() Injection { return new(serviceProxyInjection) },
	})
}

// serviceToxicFault adds one toxic to the traffic of a Kubernetes Service.
type serviceToxicFault[A toxicAttrs] struct {
	kind, toxic string
	Target      serviceTarget `yaml:",inline"`
	Toxic       toxicFields   `yaml:",inline"`
	Attrs       A             `yaml:",inline"`
}

func (f *serviceToxicFault[A]) Kind() string { return f.kind }

func (f *serviceToxicFault[A]) Validate() []error {
	errs := append(f.Target.validate(), f.Toxic.validate()...)
	return append(errs, f.Attrs.validate()...)
}

func (f *serviceToxicFault[A]) Describe() string {
	return fmt.Sprintf("%s on %s", toxicWhat(f.Toxic, f.Attrs), f.Target)
}

func (f *serviceToxicFault[A]) Resolve(ctx context.Context, env *Env) (Injection, error) {
	c, cluster, err := env.kubeClient(ctx)
	if err != nil {
		return nil, err
	}
	svc, err := c.CoreV1().Services(f.Target.Namespace).Get(ctx, f.Target.Service, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if _, nerr := c.CoreV1().Namespaces().Get(ctx, f.Target.Namespace, metav1.GetOptions{}); apierrors.IsNotFound(nerr) {
			return nil, fmt.Errorf("namespace %q does not exist (kubernetes API %s)", f.Target.Namespace, cluster.Server)
		}
		return nil, fmt.Errorf("%s does not exist (kubernetes API %s)", f.Target, cluster.Server)
	}
	if err != nil {
		return nil, kubeError(fmt.Sprintf("get %s (kubernetes API %s)", f.Target, cluster.Server), err)
	}
	inj, err := planServiceProxy(ctx, c, svc)
	if err != nil {
		return nil, err
	}
	inj.Cluster, inj.Image = cluster, f.Target.image()
	inj.Toxic, inj.What = newToxicDef(f.toxic, f.Toxic, f.Attrs), toxicWhat(f.Toxic, f.Attrs)
	return inj, nil
}

// kubeError wraps a Kubernetes API error with what was being done.
func kubeError(doing string, err error) error { return fmt.Errorf("%s: %w", doing, err) }

func (f *serviceToxicFault[A]) service() serviceTarget { return f.Target }

// KubeService names the Service a service_* fault acts on; ok is false for
// the other kinds.
func KubeService(f Fault) (namespace, name string, ok bool) {
	s, ok := f.(interface{ service() serviceTarget })
	if !ok {
		return "", "", false
	}
	t := s.service()
	return t.Namespace, t.Service, true
}
