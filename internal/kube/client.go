// Package kube is faultline's one way to reach a Kubernetes cluster: it builds a client from a
// kubeconfig (the --kubeconfig flag, else $KUBECONFIG, else ~/.kube/config) or, inside a pod, from
// the in-cluster service account, and selects pods the way Chaos Mesh does (namespace, labels,
// names, mode one|all|fixed|percent, value, seed). Only chaos and targets import it.
package kube

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Config says which cluster to talk to. The zero value means: $KUBECONFIG or ~/.kube/config, its
// current context and namespace; in a pod without a kubeconfig, the in-cluster account.
type Config struct {
	Kubeconfig string `yaml:"kubeconfig,omitempty" json:"kubeconfig,omitempty"`
	Context    string `yaml:"context,omitempty" json:"context,omitempty"`
	Namespace  string `yaml:"namespace,omitempty" json:"namespace,omitempty"`
}

// Client is a typed clientset with the REST config it was made from and the namespace in effect.
type Client struct {
	kubernetes.Interface
	REST      *rest.Config
	Namespace string // Config.Namespace, else the context's, else "default"
	Source    string // where the config came from: a kubeconfig path or "in-cluster"
}

// ErrNoConfig is returned when there is neither a kubeconfig nor an in-cluster account.
var ErrNoConfig = errors.New("no Kubernetes config: set --kubeconfig or KUBECONFIG, or run in a pod")

// New builds a client. It does not contact the API server; Ping does.
func New(cfg Config) (*Client, error) {
	rc, ns, src, err := restConfig(cfg)
	if err != nil {
		return nil, err
	}
	rc.QPS, rc.Burst = 50, 100
	if rc.Timeout == 0 {
		rc.Timeout = 30 * time.Second
	}
	rc.UserAgent = "faultline"
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client from %s: %w", src, err)
	}
	if cfg.Namespace != "" {
		ns = cfg.Namespace
	}
	if ns == "" {
		ns = "default"
	}
	return &Client{Interface: cs, REST: rc, Namespace: ns, Source: src}, nil
}

func restConfig(cfg Config) (*rest.Config, string, string, error) {
	path := cfg.Kubeconfig
	if path == "" {
		path = os.Getenv("KUBECONFIG")
	}
	if path == "" && os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		rc, err := rest.InClusterConfig()
		if err != nil {
			return nil, "", "", fmt.Errorf("in-cluster config: %w", err)
		}
		ns, _ := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
		return rc, string(ns), "in-cluster", nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return nil, "", "", fmt.Errorf("kubeconfig %s: %w", path, err)
		}
		rules.ExplicitPath = path
	} else if _, err := os.Stat(rules.GetDefaultFilename()); err != nil {
		return nil, "", "", ErrNoConfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: cfg.Context})
	rc, err := cc.ClientConfig()
	if err != nil {
		return nil, "", "", fmt.Errorf("kubeconfig %s: %w", describePath(rules), err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, "", "", fmt.Errorf("kubeconfig %s: namespace: %w", describePath(rules), err)
	}
	return rc, ns, describePath(rules), nil
}

func describePath(r *clientcmd.ClientConfigLoadingRules) string {
	if r.ExplicitPath != "" {
		return r.ExplicitPath
	}
	return r.GetDefaultFilename()
}

// Ping checks that the API server answers, within ctx, and names it in the error.
func (c *Client) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := c.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("kubernetes API server %s unreachable: %w", c.REST.Host, err)
	}
	return nil
}
