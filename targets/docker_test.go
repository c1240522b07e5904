package targets

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/chaos/docker"
	"github.com/faultline-dev/faultline/internal/testenv"
)

// TestDockerShop is the Docker path: build the image FROM scratch, start
// the shop as containers, check health through the gateway, kill catalog,
// see the gateway's breaker open, stop, and check that no container or
// network of the run is left.
func TestDockerShop(t *testing.T) {
	t.Parallel()
	testenv.Docker(t)
	bin := testenv.BuildFaultline(t)
	labels, run := testenv.DockerLabels()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	eng, err := docker.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		if err := eng.RemoveByLabel(cctx, "faultline.testrun", run); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		eng.Close()
	})

	cfg := Defaults()
	cfg.Seed = 1
	cfg.Gateway.Retry.Enabled = false
	cfg.Gateway.Breaker = BreakerConfig{Enabled: true, Window: 10 * time.Second, MinRequests: 5, FailureRate: 0.5, CoolDown: time.Minute, HalfOpenRequests: 1}
	shop, err := StartDocker(ctx, cfg, DockerOptions{
		ImageOptions: ImageOptions{Binary: bin, Tag: "faultline-test/targets:" + run, Labels: labels},
		Labels:       labels,
		RunID:        "t" + run,
	})
	if err != nil {
		t.Fatalf("StartDocker: %v", err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			shop.Close(context.Background())
		}
	})
	c := newClient(t)
	for _, row := range shop.Table() {
		if !strings.HasPrefix(row[1], "127.0.0.1:") || row[2] != "http://"+row[1] {
			t.Errorf("table row %v: want a 127.0.0.1 address", row)
		}
	}
	if len(shop.Table()) != 4 {
		t.Fatalf("table %v, want 4 services", shop.Table())
	}
	gw := shop.URL(Gateway)
	if r := get(t, c, gw+"/api/products/p001"); r.code != http.StatusOK || !strings.Contains(r.body, `"id":"p001"`) {
		t.Fatalf("through the gateway: %d %s", r.code, r.body)
	}
	if r := postOrder(t, c, gw+"/api/orders", "d1", `{"items":[{"product_id":"p001","quantity":1}]}`); r.code != http.StatusAccepted {
		t.Fatalf("order through the gateway: %d %s", r.code, r.body)
	}
	info, ok := shop.Container(Catalog)
	if !ok || info.Labels[LabelService] != Catalog || info.Labels[LabelRun] != shop.RunID() {
		t.Fatalf("catalog container %+v", info)
	}

	if err := eng.Kill(ctx, info.ID, "SIGKILL"); err != nil {
		t.Fatalf("kill catalog: %v", err)
	}
	eventually(t, 60*time.Second, "gateway's breaker opens for catalog", func() bool {
		r := get(t, c, gw+"/api/products/p002")
		if r.code == http.StatusOK {
			return false
		}
		return metricSum(scrape(t, c, gw), "faultline_gateway_breaker_state", map[string]string{"upstream": "catalog"}) == float64(BreakerOpen)
	})
	if r := get(t, c, gw+"/api/products/p003"); r.code != http.StatusServiceUnavailable || r.header.Get(ReasonHeader) != "breaker_open" {
		t.Errorf("after the breaker opened: %d %s", r.code, r.header.Get(ReasonHeader))
	}
	// Orders does not depend on catalog.
	if r := get(t, c, gw+"/api/orders/o-nope"); r.code != http.StatusNotFound {
		t.Errorf("orders route with catalog dead: %d, want 404", r.code)
	}

	closed = true
	if err := shop.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	containers, networks, _, err := eng.CountByLabel(ctx, LabelRun, shop.RunID())
	if err != nil || containers != 0 || networks != 0 {
		t.Errorf("left behind: %d containers, %d networks (%v)", containers, networks, err)
	}
}

// TestDockerStartFailureCleansUp makes a start fail half-way (a service
// that exits at once) and checks that nothing of the run is left.
func TestDockerStartFailureCleansUp(t *testing.T) {
	t.Parallel()
	testenv.Docker(t)
	labels, run := testenv.DockerLabels()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	eng, err := docker.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		eng.RemoveByLabel(context.Background(), "faultline.testrun", run)
		eng.Close()
	})
	// An image whose entrypoint exits at once: the shop never gets ready.
	bin := testenv.BuildFaultline(t)
	image, err := eng.BuildImage(ctx, docker.ImageSpec{
		Tag:        "faultline-test/broken:" + run,
		Files:      []docker.ImageFile{{HostPath: bin, ImagePath: "/faultline", Mode: 0o755}},
		Entrypoint: []string{"/faultline", "version"},
		Labels:     labels,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = StartDocker(ctx, Defaults(), DockerOptions{Image: image, Labels: labels, RunID: "t" + run, Only: []string{Store}, ReadyTimeout: 30 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "store") {
		t.Fatalf("StartDocker with a broken image = %v, want an error naming store", err)
	}
	containers, networks, _, err := eng.CountByLabel(ctx, LabelRun, "t"+run)
	if err != nil || containers != 0 || networks != 0 {
		t.Errorf("left behind after a failed start: %d containers, %d networks (%v)", containers, networks, err)
	}
}

func TestCheckStaticBinary(t *testing.T) {
	t.Parallel()
	notELF := filepath.Join(t.TempDir(), "script")
	os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755)
	if err := CheckStaticBinary(notELF); err == nil || !strings.Contains(err.Error(), "not a Linux executable") {
		t.Errorf("script: %v", err)
	}
	// /bin/sh is dynamically linked on every distribution we run on.
	if err := CheckStaticBinary("/bin/sh"); err != nil && !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Errorf("/bin/sh: %v", err)
	}
}

func TestStartDockerBadInput(t *testing.T) {
	t.Parallel()
	bad := Defaults()
	bad.Store.Pool.Size = -1
	tests := []struct {
		name string
		cfg  Config
		opts DockerOptions
		want string
	}{
		{"bad config", bad, DockerOptions{}, "targets.store.pool.size"},
		{"unknown service", Defaults(), DockerOptions{Only: []string{"cart"}}, `unknown service "cart"`},
		{"missing upstream", Defaults(), DockerOptions{Only: []string{"gateway"}}, "gateway needs catalog"},
	}
	for _, tt := range tests {
		if _, err := StartDocker(context.Background(), tt.cfg, tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}
