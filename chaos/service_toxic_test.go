package chaos

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestServiceToxicKindsMirrorToxics checks that every toxic kind has its
// service_ twin with exactly the toxic's own fields, the proxy's fields
// replaced by the Service's.
func TestServiceToxicKindsMirrorToxics(t *testing.T) {
	t.Parallel()
	proxyOnly := []string{"proxy", "upstream", "listen"}
	serviceOnly := []string{"namespace", "service", "image"}
	twins := 0
	for _, k := range Kinds() {
		info, _ := DescribeKind(k)
		if info.Group != GroupToxiproxy || k == "down" {
			continue
		}
		twin, ok := DescribeKind("service_" + k)
		if !ok {
			if _, isToxic := mustFault(t, k).(interface{ what() string }); isToxic {
				t.Errorf("toxic kind %s has no service_%s", k, k)
			}
			continue
		}
		twins++
		if twin.Group != GroupKubeService {
			t.Errorf("service_%s: group %s", k, twin.Group)
		}
		if got, want := fieldNames(twin.Fields, serviceOnly), fieldNames(info.Fields, proxyOnly); !slices.Equal(got, want) {
			t.Errorf("service_%s fields %v, %s fields %v", k, got, k, want)
		}
	}
	if twins < 7 {
		t.Errorf("%d service_ kinds, want one per toxic (7)", twins)
	}
}

func mustFault(t *testing.T, kind string) Fault {
	f, err := NewFault(kind)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func fieldNames(fields []Field, drop []string) []string {
	var out []string
	for _, f := range fields {
		if !slices.Contains(drop, f.Name) {
			out = append(out, f.Name+" "+f.Doc)
		}
	}
	return out
}

func TestServiceToxicValidate(t *testing.T) {
	t.Parallel()
	f := decodeChecked(t, "kind: service_latency\nnamespace: shop\nservice: payment\nlatency: 100ms\njitter: 50ms\n")
	if got, want := f.Describe(), "latency 100ms ±50ms downstream on Service shop/payment"; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
	for _, tc := range []struct {
		src    string
		fields []string
	}{
		{"kind: service_latency\nlatency: 100ms\n", []string{"namespace", "service"}},
		{"kind: service_latency\nnamespace: Shop\nservice: pay_ment\nlatency: 100ms\n", []string{"namespace", "service"}},
		{"kind: service_latency\nnamespace: shop\nservice: payment\n", []string{"latency"}},
		{"kind: service_timeout\nnamespace: shop\nservice: payment\nstream: sideways\n", []string{"stream"}},
	} {
		var got []string
		for _, err := range mustDecode(t, tc.src).Validate() {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("%q: %v is not a field error", tc.src, err)
				continue
			}
			got = append(got, fe.Field)
		}
		if !slices.Equal(got, tc.fields) {
			t.Errorf("%q: problems with %v, want %v", tc.src, got, tc.fields)
		}
	}
}

func TestProxyPorts(t *testing.T) {
	t.Parallel()
	pods := []corev1.Pod{{Spec: corev1.PodSpec{Containers: []corev1.Container{{Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}}}}
	svc := &corev1.Service{Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
		{Name: "web", Port: 80, TargetPort: intstr.FromString("http")},
		{Name: "alt", Port: 8081, TargetPort: intstr.FromInt32(8080)},
		{Name: "same", Port: 9000},
	}}}
	ports, err := proxyPorts(svc, pods)
	if err != nil {
		t.Fatal(err)
	}
	var listens []int32
	for _, p := range ports {
		listens = append(listens, p.Listen)
	}
	if !slices.Equal(listens, []int32{8080, 8080, 9000}) {
		t.Errorf("listen ports %v, want [8080 8080 9000]", listens)
	}
	inj := &serviceProxyInjection{Ports: ports, APIPort: apiPort(ports), Toxic: toxicDef{Name: "x", Type: "latency", Stream: "downstream", Toxicity: 1}}
	args, err := inj.proxyArgs("10.96.0.50")
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(args, " ")
	for _, want := range []string{"--listen 0.0.0.0:8474", "--proxy port-8080=0.0.0.0:8080=10.96.0.50:80", "--proxy port-9000=0.0.0.0:9000=10.96.0.50:9000", `--toxic {"name":"x","type":"latency"`} {
		if !strings.Contains(joined, want) {
			t.Errorf("args %q lack %q", joined, want)
		}
	}
	if strings.Count(joined, "--proxy") != 2 {
		t.Errorf("args %q: want one proxy per target port", joined)
	}
	// What the pod runs parses as the serve command parses it.
	for i, a := range args {
		switch {
		case a == "--proxy":
			if _, err := ParseServeProxy(args[i+1]); err != nil {
				t.Error(err)
			}
		case a == "--toxic":
			if _, err := ParseServeToxic(args[i+1]); err != nil {
				t.Error(err)
			}
		}
	}
	svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolUDP})
	if _, err := proxyPorts(svc, pods); err == nil || !strings.Contains(err.Error(), "TCP only") {
		t.Errorf("a UDP port: %v", err)
	}
	svc.Spec.Ports = []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("grpc")}}
	if _, err := proxyPorts(svc, pods); err == nil || !strings.Contains(err.Error(), `no container of its pods has a port named "grpc"`) {
		t.Errorf("an unknown named port: %v", err)
	}
}

func TestApiPortAvoidsTargetPorts(t *testing.T) {
	t.Parallel()
	if p := apiPort([]proxyPort{{Listen: 8474}, {Listen: 8475}}); p != 8476 {
		t.Errorf("api port %d, want 8476", p)
	}
}

func TestKubeName(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 70)
	if n := kubeName("faultline-proxy-"+long, "0123abcd"); len(n) > 63 || !strings.HasSuffix(n, "-0123abcd") {
		t.Errorf("kubeName = %q (%d)", n, len(n))
	}
	if n := kubeName("web-upstream", "0123abcd"); n != "web-upstream-0123abcd" {
		t.Errorf("kubeName = %q", n)
	}
}

func TestParseServeSetup(t *testing.T) {
	t.Parallel()
	p, err := ParseServeProxy("web=0.0.0.0:8080=10.96.0.12:80")
	if err != nil || !reflect.DeepEqual(p, ServeProxy{Name: "web", Listen: "0.0.0.0:8080", Upstream: "10.96.0.12:80"}) {
		t.Errorf("ParseServeProxy = %+v, %v", p, err)
	}
	for _, bad := range []string{"web=0.0.0.0:8080", "w/b=0.0.0.0:1=1.2.3.4:5", "web=8080=1.2.3.4:5"} {
		if _, err := ParseServeProxy(bad); err == nil {
			t.Errorf("ParseServeProxy(%q) accepted", bad)
		}
	}
	tx, err := ParseServeToxic(`{"type":"latency","attributes":{"latency":100}}`)
	if err != nil || tx.def.Name != "latency" || tx.def.Stream != "downstream" || tx.def.Toxicity != 1 {
		t.Errorf("ParseServeToxic = %+v, %v", tx.def, err)
	}
	for _, bad := range []string{`{"attributes":{}}`, `{"type":"latency","colour":1}`, `latency`} {
		if _, err := ParseServeToxic(bad); err == nil {
			t.Errorf("ParseServeToxic(%q) accepted", bad)
		}
	}
}

// mustDecode decodes a fault from YAML, unchecked.
func mustDecode(t *testing.T, src string) Fault {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		t.Fatal(err)
	}
	f, err := decodeFault(n.Content[0])
	if err != nil {
		t.Fatal(err)
	}
	return f
}
