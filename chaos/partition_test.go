package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
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
// the named network, groups that share no network or overlap, are problems
// with the fault (exit code 2) on its network or from_names field, found
// before anything is touched.
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
		spec  Spec
		want  string
		field string
	}{
		{Spec{Kind: "partition", Names: []string{lonely}}, "has no network of its own to cut it from (network mode none)", "network"},
		{Spec{Kind: "partition", Names: []string{cs[0].name}, Network: "elsewhere"}, "is not on network elsewhere (it is on " + netName + ")", "network"},
		{Spec{Kind: "partition", Names: []string{cs[0].name}, FromNames: []string{lonely}}, "the groups share no network (" + cs[0].name + " on " + netName + "; " + lonely + " on none)", "network"},
		{Spec{Kind: "partition", Names: []string{cs[0].name}, FromNames: []string{"re2:^" + cs[0].name + "$"}}, "container " + cs[0].name + " is in both groups", "from_names"},
	} {
		f, err := New(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		_, err = NewSession(testLedger(t), closingEnv(t)).Plan(ctx, f)
		var fe *FieldError
		if err == nil || !strings.Contains(err.Error(), tc.want) || exitcode.Of(err) != exitcode.Usage || !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%v: %v (exit %d), want %q on field %s, exit 2", tc.spec, err, exitcode.Of(err), tc.want, tc.field)
		}
	}
}

// reaches says whether container id opens the Toxiproxy API of host (a
// name on the networks it shares with id) from inside, through the
// faultline binary in it.
func reaches(t *testing.T, eng *docker.Engine, id, host string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	execID, err := eng.Exec(ctx, id, []string{"/faultline", "chaos", "proxy", "list", "--toxiproxy-url", "http://" + host + ":8474"})
	if err != nil {
		t.Fatal(err)
	}
	code, err := eng.WaitExec(ctx, execID)
	if err != nil {
		t.Fatal(err)
	}
	return code == 0
}

// TestPartitionGroups cuts A from B on their network with a third
// container C beside them: during the fault A and B do not reach each
// other by name, both still reach C and C both; after the revert (from the
// session, or from the ledger alone as `faultline chaos cleanup` after a
// SIGKILL) every container is on exactly the networks, with the aliases
// and addresses, it had, and the bridge the partition created is gone.
func TestPartitionGroups(t *testing.T) {
	t.Parallel()
	eng, image := dockerEngine(t)
	for _, from := range []string{"session", "ledger"} {
		t.Run(from, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			netName, cs := runOnNetwork(t, eng, image, 3)
			a, b, c := cs[0], cs[1], cs[2]
			for _, x := range cs {
				waitReach(t, eng, c.id, "svc"+x.name[len(x.name)-1:])
			}
			before := map[string]docker.Networking{}
			for _, x := range cs {
				before[x.id], _ = eng.Networking(ctx, x.id)
			}
			f, err := New(Spec{Kind: "partition", Names: []string{a.name}, FromNames: []string{b.name}})
			if err != nil {
				t.Fatal(err)
			}
			ledger := testLedger(t)
			s := NewSession(ledger, closingEnv(t))
			e, err := s.Inject(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []struct {
				from    netContainer
				to      string
				reached bool
			}{{a, "svc1", false}, {b, "svc0", false}, {a, "svc2", true}, {b, "svc2", true}, {c, "svc0", true}, {c, "svc1", true}} {
				if got := reaches(t, eng, p.from.id, p.to); got != p.reached {
					t.Errorf("during: %s reaches %s: %v, want %v", p.from.name, p.to, got, p.reached)
				}
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
			for _, x := range cs {
				if after, _ := eng.Networking(ctx, x.id); !reflect.DeepEqual(after, before[x.id]) {
					t.Errorf("after: %s %+v\nbefore: %+v", x.name, after, before[x.id])
				}
			}
			if left, err := eng.Networks(ctx, map[string]string{labelPartition: netName}); err != nil || len(left) != 0 {
				t.Errorf("bridges left: %v (%v)", left, err)
			}
			if !reaches(t, eng, a.id, "svc1") || !reaches(t, eng, b.id, "svc0") {
				t.Errorf("after: A and B still do not reach each other")
			}
			if active, _ := ledger.Active(); len(active) != 0 {
				t.Errorf("ledger still lists %d fault(s)", len(active))
			}
		})
	}
}

// waitReach polls until container id reaches host, for 15s.
func waitReach(t *testing.T, eng *docker.Engine, id, host string) {
	t.Helper()
	for start := time.Now(); !reaches(t, eng, id, host); {
		if time.Since(start) > 15*time.Second {
			t.Fatalf("%s is not reached after 15s", host)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
