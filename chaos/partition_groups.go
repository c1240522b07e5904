package chaos

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/faultline-dev/faultline/chaos/docker"
	"github.com/faultline-dev/faultline/internal/exitcode"
)

// A partition between two groups, A (the picked containers) and B (from_names,
// from_labels), on a network N they share, with the Docker Engine API alone:
// a bridge N' is created beside N, and A and everyone else on N but B are
// attached to it with the aliases they have on N; then A is detached from
// N. A reaches everyone but B through N' (their names resolve there), B
// everyone but A through N, and the engine keeps the two bridges apart.

// labelPartition marks the bridges a partition creates, with the name of
// the network each stands in for.
const labelPartition = "faultline.partition"

// bridgeOptions are the options of N that N' takes over: the rest (the
// bridge's device name, say) belong to N alone.
var bridgeOptions = []string{"com.docker.network.bridge.enable_icc", "com.docker.network.bridge.enable_ip_masquerade", "com.docker.network.driver.mtu"}

func (f *partitionFault) grouped() bool { return len(f.FromNames) > 0 || len(f.FromLabels) > 0 }

// other is the second group: every running container that matches.
func (f *partitionFault) other() containerTarget {
	return containerTarget{Names: f.FromNames, Labels: f.FromLabels, Selection: Selection{Mode: ModeAll}}
}

// resolveGroups records everything the partition between the picked
// containers (a) and the other group does, before anything is touched.
func (f *partitionFault) resolveGroups(ctx context.Context, env *Env, eng *docker.Engine, a []containerRef, inj *partitionInjection) (Injection, error) {
	_, b, _, err := f.other().pick(ctx, env)
	if err != nil {
		return nil, exitcode.Wrap(&FieldError{Field: "from_names", Err: fmt.Errorf("from_names, from_labels: %w", err)}, exitcode.Usage)
	}
	var problems []error
	nets := map[string]docker.Networking{}
	for _, c := range append(slices.Clone(a), b...) {
		if _, ok := nets[c.ID]; ok {
			problems = append(problems, fieldErrorf("from_names", "container %s is in both groups", c.Name))
			continue
		}
		if nets[c.ID], err = eng.Networking(ctx, c.ID); err != nil {
			return nil, err
		}
	}
	shared := f.sharedNetworks(a, b, nets)
	if len(shared) == 0 && len(problems) == 0 {
		problems = append(problems, fieldErrorf("network", "the groups share no network%s (%s; %s)", onNetwork(f.Network), networksOf(a, nets), networksOf(b, nets)))
	}
	for _, id := range shared {
		bridge, err := newBridge(ctx, eng, id, a, b)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		inj.Bridges = append(inj.Bridges, bridge)
	}
	if len(problems) > 0 {
		return nil, exitcode.Wrap(errors.Join(problems...), exitcode.Usage)
	}
	for _, c := range a {
		var cut []docker.Endpoint
		for _, ep := range nets[c.ID].Endpoints {
			if slices.Contains(shared, ep.NetworkID) {
				cut = append(cut, ep)
			}
		}
		if len(cut) > 0 {
			inj.Containers = append(inj.Containers, partitionedContainer{containerRef: c, Endpoints: cut})
		}
	}
	return inj, nil
}

func onNetwork(n string) string {
	if n == "" {
		return ""
	}
	return " named " + n
}

// sharedNetworks lists the IDs of the networks (the one named by network,
// if any) that a container of a and one of b are both on, sorted.
func (f *partitionFault) sharedNetworks(a, b []containerRef, nets map[string]docker.Networking) []string {
	on := func(group []containerRef) map[string]bool {
		ids := map[string]bool{}
		for _, c := range group {
			for _, ep := range nets[c.ID].Endpoints {
				if f.Network == "" || ep.NetworkName == f.Network || ep.NetworkID == f.Network || (len(f.Network) >= 12 && strings.HasPrefix(ep.NetworkID, f.Network)) {
					ids[ep.NetworkID] = true
				}
			}
		}
		return ids
	}
	inA, inB := on(a), on(b)
	var shared []string
	for id := range inA {
		if inB[id] {
			shared = append(shared, id)
		}
	}
	slices.Sort(shared)
	return shared
}

// networksOf says which networks each container of a group is on.
func networksOf(group []containerRef, nets map[string]docker.Networking) string {
	var parts []string
	for _, c := range group {
		var names []string
		for _, ep := range nets[c.ID].Endpoints {
			names = append(names, ep.NetworkName)
		}
		if len(names) == 0 {
			names = []string{"no network"}
		}
		parts = append(parts, c.Name+" on "+strings.Join(names, ", "))
	}
	return strings.Join(parts, "; ")
}

// partitionBridge is the network N' that stands in for network N for the
// first group and everyone on N but the second group.
type partitionBridge struct {
	Network  string            `json:"network"` // N's name
	Name     string            `json:"name"`
	Internal bool              `json:"internal,omitempty"`
	Options  map[string]string `json:"options,omitempty"`
	Labels   map[string]string `json:"labels"`
	// Members are attached to N' with the aliases they have on N: the
	// first group and everyone else on N but Apart.
	Members []bridgeMember `json:"members"`
	Apart   []string       `json:"apart"` // the second group's names on N
}

type bridgeMember struct {
	containerRef
	Aliases []string `json:"aliases,omitempty"`
}

// newBridge plans the bridge for the network with ID id: it must be a
// user-defined bridge network, whose embedded DNS keeps the names working.
func newBridge(ctx context.Context, eng *docker.Engine, id string, a, b []containerRef) (partitionBridge, error) {
	n, err := eng.InspectNetwork(ctx, id)
	if err != nil {
		return partitionBridge{}, err
	}
	if n.Driver != "bridge" || n.Name == "bridge" {
		return partitionBridge{}, fieldErrorf("network", "network %s (driver %s) is not a user-defined bridge network: a partition between groups needs one, whose DNS resolves the containers' names", n.Name, n.Driver)
	}
	bridge := partitionBridge{Network: n.Name, Name: n.Name + "-partition-" + nonce(), Internal: n.Internal, Labels: map[string]string{}}
	for k, v := range n.Labels {
		if k != docker.LabelRun { // N' is not part of the shop's deployment
			bridge.Labels[k] = v
		}
	}
	bridge.Labels[labelPartition] = n.Name
	for _, k := range bridgeOptions {
		if v, ok := n.Options[k]; ok {
			if bridge.Options == nil {
				bridge.Options = map[string]string{}
			}
			bridge.Options[k] = v
		}
	}
	isB := func(cid string) bool { return slices.ContainsFunc(b, func(c containerRef) bool { return c.ID == cid }) }
	byName := slices.SortedFunc(maps.Keys(n.Containers), func(x, y string) int { return strings.Compare(n.Containers[x], n.Containers[y]) })
	for _, cid := range byName {
		if isB(cid) {
			bridge.Apart = append(bridge.Apart, n.Containers[cid])
			continue
		}
		m, err := eng.Networking(ctx, cid)
		if err != nil {
			return partitionBridge{}, err
		}
		for _, ep := range m.Endpoints {
			if ep.NetworkID == n.ID {
				bridge.Members = append(bridge.Members, bridgeMember{containerRef: containerRef{ID: cid, Name: n.Containers[cid]}, Aliases: ep.Aliases})
			}
		}
	}
	return bridge, nil
}

// describeGroups says, for each network, who is cut from whom and who
// joins the bridge network.
func (p *partitionInjection) describeGroups() string {
	var a []string
	for _, c := range p.Containers {
		a = append(a, c.Name)
	}
	var parts []string
	for _, b := range p.Bridges {
		var others []string
		for _, m := range b.Members {
			if !slices.Contains(a, m.Name) {
				others = append(others, m.Name)
			}
		}
		s := fmt.Sprintf("on network %s: %s moved to new network %s", b.Network, strings.Join(a, ", "), b.Name)
		if len(others) > 0 {
			s += " with " + strings.Join(others, ", ") + " (on both)"
		}
		parts = append(parts, s+", apart from "+strings.Join(b.Apart, ", "))
	}
	return fmt.Sprintf("partition %s from %s (%s) on the docker engine at %s", strings.Join(a, ", "), strings.Join(p.Bridges[0].Apart, ", "), strings.Join(parts, "; "), p.Host)
}

// create creates N' and attaches the members to it.
func (b partitionBridge) create(ctx context.Context, eng *docker.Engine) error {
	id, err := eng.CreateBridge(ctx, b.Name, b.Internal, b.Options, b.Labels)
	if err != nil {
		return fmt.Errorf("partition: %w", err)
	}
	for _, m := range b.Members {
		if _, err := eng.Reconnect(ctx, m.ID, docker.Endpoint{NetworkID: id, NetworkName: b.Name, Aliases: m.Aliases}); err != nil {
			return fmt.Errorf("partition: %s: %w", m.Name, err)
		}
	}
	return nil
}

// remove detaches every container from N' (the members, and any attached
// since) and removes it.
func (b partitionBridge) remove(ctx context.Context, eng *docker.Engine) (string, error) {
	n, err := eng.InspectNetwork(ctx, b.Name)
	if docker.IsNotFound(err) {
		return "network " + b.Name + " was never created", nil
	} else if err != nil {
		return "", err
	}
	if n.Labels[labelPartition] != b.Network {
		return "", fmt.Errorf("network %s does not carry %s=%s: not removing it", b.Name, labelPartition, b.Network)
	}
	for cid := range n.Containers {
		if err := eng.Disconnect(ctx, n.ID, cid); err != nil {
			return "", err
		}
	}
	if err := eng.RemoveNetwork(ctx, n.ID); err != nil {
		return "", err
	}
	return fmt.Sprintf("removed network %s (%d container(s) detached)", b.Name, len(n.Containers)), nil
}
