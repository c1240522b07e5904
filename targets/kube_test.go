package targets

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/faultline-dev/faultline/internal/kube"
	"github.com/faultline-dev/faultline/internal/testenv"
)

// kubeImage is the targets image, built from the static test binary and
// loaded into the test cluster.
func kubeImage(t *testing.T) string {
	return testenv.KubeFaultlineImage(t, func(ctx context.Context, bin, tag string) error {
		_, err := BuildImageWithEngine(ctx, ImageOptions{Binary: bin, Tag: tag})
		return err
	})
}

// TestKubeShop deploys the shop into a fresh namespace with two catalog
// replicas, reaches it through the gateway's ClusterIP from the host,
// refuses a second shop in the same namespace, and checks that StopKube
// removes exactly the shop: an unrelated Service faultline manages (as a
// Toxiproxy in front of a Service would be) stays.
func TestKubeShop(t *testing.T) {
	t.Parallel()
	c := testenv.Kube(t)
	testenv.Docker(t)
	image := kubeImage(t)
	ns := testenv.KubeNamespace(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	began := time.Now()
	shop, err := StartKube(ctx, testConfig(), KubeOptions{
		Client: c, Kube: KubeConfig{Namespace: ns}, Image: image, Replicas: map[string]int{Catalog: 2},
		Labels: map[string]string{"faultline.test": "1"},
	})
	if err != nil {
		t.Fatalf("StartKube: %v", err)
	}
	t.Logf("shop ready in %s", time.Since(began).Round(time.Millisecond))
	for _, row := range shop.Table() {
		if !strings.HasPrefix(row[1], "10.96.") || row[2] != "http://"+row[1] {
			t.Errorf("table row %v: want a ClusterIP address", row)
		}
	}
	cl := newClient(t)
	gw := shop.URL(Gateway)
	if r := get(t, cl, gw+"/api/products/p001"); r.code != http.StatusOK || !strings.Contains(r.body, `"id":"p001"`) {
		t.Fatalf("through the gateway: %d %s", r.code, r.body)
	}
	if r := postOrder(t, cl, gw+"/api/orders", "k1", `{"items":[{"product_id":"p001","quantity":1}]}`); r.code != http.StatusAccepted {
		t.Fatalf("order through the gateway: %d %s", r.code, r.body)
	}
	pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=catalog," + LabelManagedBy + "=" + ManagedBy})
	if err != nil || len(pods.Items) != 2 {
		t.Fatalf("catalog pods: %v, %d, want 2", err, len(pods.Items))
	}

	if _, err := StartKube(ctx, testConfig(), KubeOptions{Client: c, Kube: KubeConfig{Namespace: ns}, Image: image}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("a second shop in %s: %v, want already exists", ns, err)
	}

	other := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "not-the-shop", Labels: map[string]string{LabelManagedBy: ManagedBy}},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "x"}, Ports: []corev1.ServicePort{{Port: 80}}},
	}
	if _, err := c.CoreV1().Services(ns).Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	began = time.Now()
	removed, err := StopKube(ctx, KubeConfig{Namespace: ns}, c)
	t.Logf("shop removed in %s", time.Since(began).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("StopKube: %v", err)
	}
	if len(removed) != 8 {
		t.Errorf("removed %v, want 4 deployments and 4 services", removed)
	}
	assertNoShop(t, c, ns)
	if _, err := c.CoreV1().Services(ns).Get(ctx, "not-the-shop", metav1.GetOptions{}); err != nil {
		t.Errorf("StopKube removed a Service that is not the shop's: %v", err)
	}
	if err := shop.Close(ctx); err != nil {
		t.Errorf("Close after StopKube: %v", err)
	}
}

// TestKubeShopErrors: a namespace that does not exist and an image the
// cluster does not have are one clear error each, and nothing is left.
func TestKubeShopErrors(t *testing.T) {
	t.Parallel()
	c := testenv.Kube(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err := StartKube(ctx, testConfig(), KubeOptions{Client: c, Kube: KubeConfig{Namespace: "fl-no-such-namespace"}})
	if err == nil || !strings.Contains(err.Error(), `namespace "fl-no-such-namespace" does not exist`) {
		t.Errorf("missing namespace: %v", err)
	}
	if _, err := StartKube(ctx, testConfig(), KubeOptions{Client: c, Kube: KubeConfig{Namespace: "x"}, Replicas: map[string]int{"web": 2}}); err == nil || !strings.Contains(err.Error(), "replicas") {
		t.Errorf("replicas of an unknown service: %v", err)
	}

	ns := testenv.KubeNamespace(t, c)
	_, err = StartKube(ctx, testConfig(), KubeOptions{
		Client: c, Kube: KubeConfig{Namespace: ns}, Image: "faultline-test/absent:none", Only: []string{Store}, ReadyTimeout: 10 * time.Second,
	})
	if err == nil || !strings.Contains(err.Error(), "deployment "+ns+"/store not ready") || !strings.Contains(err.Error(), "ErrImage") {
		t.Errorf("absent image: %v", err)
	}
	assertNoShop(t, c, ns)
}

// TestKubeShopReadyDeadlineMidRead: when the readiness deadline ends a
// Deployment read the API server has not answered, the error still says
// what the pods are doing (CI once got only "context deadline exceeded").
// Every read of the store's Deployment hangs until its context ends, so the
// deadline always lands inside one.
func TestKubeShopReadyDeadlineMidRead(t *testing.T) {
	t.Parallel()
	c := testenv.Kube(t)
	ns := testenv.KubeNamespace(t, c)
	rc := rest.CopyConfig(c.REST)
	hang := "/apis/apps/v1/namespaces/" + ns + "/deployments/store"
	rc.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if req.Method == http.MethodGet && req.URL.Path == hang {
				<-req.Context().Done()
				return nil, req.Context().Err()
			}
			return rt.RoundTrip(req)
		})
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	slow := &kube.Client{Interface: cs, REST: rc, Namespace: ns, Source: c.Source}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err = StartKube(ctx, testConfig(), KubeOptions{
		Client: slow, Kube: KubeConfig{Namespace: ns}, Image: "faultline-test/absent:none", Only: []string{Store}, ReadyTimeout: 10 * time.Second,
	})
	if err == nil || !strings.Contains(err.Error(), "deployment "+ns+"/store not ready") || !strings.Contains(err.Error(), "ErrImage") ||
		strings.Contains(err.Error(), "deadline") {
		t.Errorf("absent image, Deployment reads unanswered: %v", err)
	}
	assertNoShop(t, c, ns)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func assertNoShop(t *testing.T, c *kube.Client, ns string) {
	t.Helper()
	ctx := context.Background()
	sel := metav1.ListOptions{LabelSelector: LabelPartOf + "=" + PartOfShop}
	deps, err1 := c.AppsV1().Deployments(ns).List(ctx, sel)
	svcs, err2 := c.CoreV1().Services(ns).List(ctx, sel)
	pods, err3 := c.CoreV1().Pods(ns).List(ctx, sel)
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatalf("list: %v %v %v", err1, err2, err3)
	}
	if n := len(deps.Items) + len(svcs.Items) + len(pods.Items); n != 0 {
		t.Errorf("left in %s: %d deployments, %d services, %d pods", ns, len(deps.Items), len(svcs.Items), len(pods.Items))
	}
}
