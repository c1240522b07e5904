package targets

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// meanLatency times n sequential GETs of url, 7 ms apart so that they
// arrive all over the stress period.
func meanLatency(t *testing.T, url string, n int) time.Duration {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	var total time.Duration
	for range n {
		start := time.Now()
		resp, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		total += time.Since(start)
		time.Sleep(7 * time.Millisecond)
	}
	return total / time.Duration(n)
}

// TestCPUStressSlowsOneService stresses store at 80%: its requests wait on
// average for a good part of the stressor's 40 ms window (0.8 x 20 ms =
// 16 ms expected), catalog's do not, and after UnstressCPU store is fast
// again. The note counts the requests held.
func TestCPUStressSlowsOneService(t *testing.T) {
	t.Parallel()
	shop := startShop(t, testConfig(), StartOptions{})
	store, catalog := shop.Service(Store), shop.Service(Catalog)
	before := meanLatency(t, store.URL()+"/healthz", 50)
	if err := store.StressCPU(80); err != nil {
		t.Fatal(err)
	}
	during, other := meanLatency(t, store.URL()+"/healthz", 100), meanLatency(t, catalog.URL()+"/healthz", 100)
	note := store.UnstressCPU()
	after := meanLatency(t, store.URL()+"/healthz", 50)
	t.Logf("store mean %s before, %s during 80%% stress (catalog %s), %s after; %s", before, during, other, after, note)
	if during < 8*time.Millisecond || during > 40*time.Millisecond {
		t.Errorf("store during: mean %s, want about 16ms (8..40)", during)
	}
	if other > 5*time.Millisecond+before || after > 5*time.Millisecond+before {
		t.Errorf("catalog during %s, store after %s: want no slower than store before (%s) + 5ms", other, after, before)
	}
	if !strings.Contains(note, "of 100 requests") {
		t.Errorf("note %q", note)
	}
	if err := store.StressCPU(100); err == nil {
		t.Error("load 100 accepted")
	}
}
