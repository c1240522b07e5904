package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/chaos/docker"
	"github.com/faultline-dev/faultline/internal/exitcode"
)

// netContainer is a container of a partition test, on its own network.
type netContainer struct {
	id, name string
}

// runOnNetwork creates a labelled network and starts n containers serving
// the Toxiproxy API on it, each with the aliases svcN and shared; both are
// removed when the test ends. It returns the network's name.
func runOnNetwork(t *testing.T, eng *docker.Engine, image string, n int) (string, []netContainer) {
	t.Helper()
	ctx := context.Background()
	group := fmt.Sprintf("%s-%d", testRunID, time.Now().UnixNano()%1_000_000)
	labels := map[string]string{"faultline.test": "1", "faultline.test.run": testRunID, "faultline.test.group": group}
	t.Cleanup(func() { eng.RemoveByLabel(context.Background(), "faultline.test.group", group) })
	netName := "fl-part-" + group
	if _, err := eng.CreateNetwork(ctx, netName, labels); err != nil {
		t.Fatal(err)
	}
	var out []netContainer
	for i := range n {
		name := fmt.Sprintf("fl-part-%s-%d", group, i)
		id, err := eng.RunContainer(ctx, docker.ContainerSpec{
			Name: name, Image: image, Labels: labels, Network: netName,
			Aliases: []string{fmt.Sprintf("svc%d", i), "shared"},
			Cmd:     []string{"chaos", "toxiproxy", "serve", "--listen", "0.0.0.0:8474"},
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, netContainer{id: id, name: name})
	}
	return netName, out
}

// endpointOn returns the container's endpoint on the network.
func endpointOn(t *testing.T, eng *docker.Engine, id, netName string) (docker.Endpoint, bool) {
	t.Helper()
	n, err := eng.Networking(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, ep := range n.Endpoints {
		if ep.NetworkName == netName {
			return ep, true
		}
	}
	return docker.Endpoint{}, false
}

// dialCount dials addr tries times (each bounded by 300ms) and counts the
// connections that opened.
func dialCount(addr string, tries int) int {
	ok := 0
	for range tries {
		c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err == nil {
			ok++
			c.Close()
		}
	}
	return ok
}

// waitDial polls until addr accepts a connection, and says how long that took.
func waitDial(t *testing.T, addr string) time.Duration {
	t.Helper()
	start := time.Now()
	for dialCount(addr, 1) == 0 {
		if time.Since(start) > 15*time.Second {
			t.Fatalf("%s still refuses connections after 15s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// TestPartitionCutsAndRestores cuts one of two containers off their network
// and checks, from the host through the network's bridge: connections to
// it fail during the fault while its neighbour still answers, and open
// again after; the engine reports the same aliases and address after the
// revert as before; reverted from the same process and, as `faultline
// chaos cleanup` after a SIGKILL, from the ledger alone.
func TestPartitionCutsAndRestores(t *testing.T) {
	t.Parallel()
	eng, image := dockerEngine(t)
	for _, from := range []string{"session", "ledger"} {
		t.Run(from, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			netName, cs := runOnNetwork(t, eng, image, 2)
			before, ok := endpointOn(t, eng, cs[0].id, netName)
			other, _ := endpointOn(t, eng, cs[1].id, netName)
			if !ok || before.IPv4 == "" {
				t.Fatalf("container not on %s: %+v", netName, before)
			}
			addr, otherAddr := net.JoinHostPort(before.IPv4, "8474"), net.JoinHostPort(other.IPv4, "8474")
			waitDial(t, addr)
			waitDial(t, otherAddr)
			f, err := New(Spec{Kind: "partition", Names: []string{cs[0].name}, Network: netName})
			if err != nil {
				t.Fatal(err)
			}
			ledger := testLedger(t)
			s := NewSession(ledger, closingEnv(t))
			e, err := s.Inject(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if _, on := endpointOn(t, eng, cs[0].id, netName); on {
				t.Errorf("during: still on %s", netName)
			}
			if got := dialCount(addr, 10); got != 0 {
				t.Errorf("during: %d of 10 connections to the partitioned container opened, want 0", got)
			}
			if got := dialCount(otherAddr, 10); got != 10 {
				t.Errorf("during: %d of 10 connections to its neighbour opened, want 10", got)
			}
			var out strings.Builder
			if from == "session" {
				err = s.Revert(ctx, e)
			} else {
				_, err = RevertLedger(ctx, ledger, closingEnv(t), &out)
			}
			if err != nil {
				t.Fatalf("revert: %v\n%s", err, out.String())
			}
			after, ok := endpointOn(t, eng, cs[0].id, netName)
			if !ok || after.IPv4 != before.IPv4 || !slices.Equal(after.Aliases, before.Aliases) {
				t.Errorf("after: %+v\nbefore: %+v", after, before)
			}
			t.Logf("reconnected after %s; before %s %v, after %s %v", waitDial(t, addr), before.IPv4, before.Aliases, after.IPv4, after.Aliases)
			if active, _ := ledger.Active(); len(active) != 0 {
				t.Errorf("ledger still lists %d fault(s)", len(active))
			}
		})
	}
}

// TestPartitionNeedsANetwork: a container with network mode none, or not on
// the named network, is a problem with the fault (exit code 2) on its
// network field, found before anything is touched.
func TestPartitionNeedsANetwork(t *testing.T) {
	t.Parallel()
	eng, image := dockerEngine(t)
	ctx := context.Background()
	netName, cs := runOnNetwork(t, eng, image, 1)
	group := fmt.Sprintf("%s-none-%d", testRunID, time.Now().UnixNano()%1_000_000)
	t.Cleanup(func() { eng.RemoveByLabel(context.Background(), "faultline.test.group", group) })
	lonely := "fl-part-" + group
	if _, err := eng.RunContainer(ctx, docker.ContainerSpec{
		Name: lonely, Image: image, Network: "none", Cmd: []string{"chaos", "toxiproxy", "serve"},
		Labels: map[string]string{"faultline.test": "1", "faultline.test.run": testRunID, "faultline.test.group": group},
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		spec Spec
		want string
	}{
		{Spec{Kind: "partition", Names: []string{lonely}}, "has no network of its own to cut it from (network mode none)"},
		{Spec{Kind: "partition", Names: []string{cs[0].name}, Network: "elsewhere"}, "is not on network elsewhere (it is on " + netName + ")"},
	} {
		f, err := New(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		_, err = NewSession(testLedger(t), closingEnv(t)).Plan(ctx, f)
		var fe *FieldError
		if err == nil || !strings.Contains(err.Error(), tc.want) || exitcode.Of(err) != exitcode.Usage || !errors.As(err, &fe) || fe.Field != "network" {
			t.Errorf("%v: %v (exit %d), want %q on field network, exit 2", tc.spec.Names, err, exitcode.Of(err), tc.want)
		}
	}
}
