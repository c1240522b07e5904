package chaos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/faultline-dev/faultline/chaos/docker"
	"github.com/faultline-dev/faultline/internal/exitcode"
)

func init() {
	registerKind(kind{
		name:         "partition",
		group:        GroupContainer,
		summary:      "cut containers off a Docker network (or every network they are on), or with from_names/from_labels off a second group of containers alone; revert attaches them again with the aliases and addresses they had",
		newFault:     func() Fault { return new(partitionFault) },
		newInjection: func() Injection { return new(partitionInjection) },
	})
}

// partitionFault detaches containers from a network: nothing on that
// network (the other containers, the host through its bridge, published
// ports routed through it) reaches them, nor they it, and their names
// vanish from its DNS. One side of the partition is the picked containers,
// the other everything else on the network. With from_names or
// from_labels, the other side is that second group alone (see
// partition_groups.go): the picked containers still reach everyone else.
type partitionFault struct {
	Target     containerTarget   `yaml:",inline"`
	Network    string            `yaml:"network,omitempty" doc:"the network (name or ID) to cut the containers off; empty: every network each one is attached to (with from_names or from_labels: every network the two groups share)"`
	FromNames  []string          `yaml:"from_names,omitempty" flag:"from-name" doc:"the other group: cut the picked containers off only these running containers (names or IDs, or one re2:EXPR), both ways, on the user-defined bridge networks they share; everyone else still reaches both groups by name"`
	FromLabels map[string]string `yaml:"from_labels,omitempty" flag:"from-label" doc:"the other group by labels, KEY: VALUE (an empty VALUE: any value), with or instead of from_names"`
}

var _ Fault = (*partitionFault)(nil)

func (f *partitionFault) Kind() string { return "partition" }

func (f *partitionFault) Validate() []error {
	errs := f.Target.validate()
	if f.grouped() {
		if _, err := f.other().selector(); err != nil {
			errs = append(errs, fieldErrorf("from_names", "from_%v", err))
		}
	}
	return errs
}

func (f *partitionFault) what() string {
	switch {
	case f.grouped() && f.Network == "":
		return "partition from " + describeSelector(docker.Selector{Names: f.FromNames, Labels: f.FromLabels}) + " on every network they share"
	case f.grouped():
		return "partition from " + describeSelector(docker.Selector{Names: f.FromNames, Labels: f.FromLabels}) + " on network " + f.Network
	case f.Network == "":
		return "partition from every network"
	}
	return "partition from network " + f.Network
}

func (f *partitionFault) Describe() string { return f.what() + " " + f.Target.describe() }

// Resolve records, for each picked container, the endpoints to cut and
// what it takes to attach them again. A container with no network to cut
// (network mode none, host, or another container's; or not on the named
// network) is a problem with the fault's configuration: exit code 2, on
// the network field.
func (f *partitionFault) Resolve(ctx context.Context, env *Env) (Injection, error) {
	eng, refs, how, err := f.Target.pick(ctx, env)
	if err != nil {
		return nil, err
	}
	inj := &partitionInjection{Host: eng.Host(), What: f.what(), Selection: how}
	if f.grouped() {
		return f.resolveGroups(ctx, env, eng, refs, inj)
	}
	var problems []error
	for _, ref := range refs {
		n, err := eng.Networking(ctx, ref.ID)
		if err != nil {
			return nil, err
		}
		cut, err := f.endpoints(ref, n)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		inj.Containers = append(inj.Containers, partitionedContainer{containerRef: ref, Endpoints: cut})
	}
	if len(problems) > 0 {
		return nil, exitcode.Wrap(errors.Join(problems...), exitcode.Usage)
	}
	return inj, nil
}

// endpoints picks the endpoints of one container that the fault cuts.
func (f *partitionFault) endpoints(ref containerRef, n docker.Networking) ([]docker.Endpoint, error) {
	var names []string
	for _, ep := range n.Endpoints {
		names = append(names, ep.NetworkName)
	}
	switch {
	case n.Mode == "host" || n.Mode == "none" || strings.HasPrefix(n.Mode, "container:"):
		return nil, fieldErrorf("network", "container %s has no network of its own to cut it from (network mode %s)", ref.Name, n.Mode)
	case len(n.Endpoints) == 0:
		return nil, fieldErrorf("network", "container %s is attached to no network", ref.Name)
	case f.Network == "":
		return n.Endpoints, nil
	}
	for _, ep := range n.Endpoints {
		if ep.NetworkName == f.Network || ep.NetworkID == f.Network || (len(f.Network) >= 12 && strings.HasPrefix(ep.NetworkID, f.Network)) {
			return []docker.Endpoint{ep}, nil
		}
	}
	return nil, fieldErrorf("network", "container %s is not on network %s (it is on %s)", ref.Name, f.Network, strings.Join(names, ", "))
}

// partitionedContainer is one container a partition cuts, with the
// endpoints it had.
type partitionedContainer struct {
	containerRef
	Endpoints []docker.Endpoint `json:"endpoints"`
}

// partitionInjection detaches containers from networks and attaches them
// again on revert, from the ledger after a crash too.
type partitionInjection struct {
	Host       string                 `json:"docker_host"`
	What       string                 `json:"what"`
	Selection  string                 `json:"selection"`
	Containers []partitionedContainer `json:"containers"`
	// Bridges are the networks a partition between two groups creates,
	// one for each network the groups share.
	Bridges []partitionBridge `json:"bridges,omitempty"`
}

var _ Injection = (*partitionInjection)(nil)

func (p *partitionInjection) Describe() string {
	if len(p.Bridges) > 0 {
		return p.describeGroups()
	}
	var parts []string
	for _, c := range p.Containers {
		var nets []string
		for _, ep := range c.Endpoints {
			nets = append(nets, fmt.Sprintf("%s (%s)", ep.NetworkName, ep.IPv4))
		}
		parts = append(parts, c.Name+" from "+strings.Join(nets, ", "))
	}
	return fmt.Sprintf("partition %s (%s) on the docker engine at %s", strings.Join(parts, "; "), p.Selection, p.Host)
}

func (p *partitionInjection) Inject(ctx context.Context, env *Env) error {
	eng, err := engineAt(ctx, env, p.Host)
	if err != nil {
		return err
	}
	for _, b := range p.Bridges {
		if err := b.create(ctx, eng); err != nil {
			return err
		}
	}
	for _, c := range p.Containers {
		for _, ep := range c.Endpoints {
			if err := eng.Disconnect(ctx, ep.NetworkID, c.ID); err != nil {
				return fmt.Errorf("partition %s: %w", c.Name, err)
			}
		}
	}
	return nil
}

func (p *partitionInjection) Revert(ctx context.Context, env *Env) (string, error) {
	eng, err := engineAt(ctx, env, p.Host)
	if err != nil {
		return "", err
	}
	var notes []string
	var errs []error
	for _, c := range p.Containers {
		note, err := reattach(ctx, eng, c)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
			continue
		}
		notes = append(notes, c.Name+" "+note)
	}
	// The bridges go only once the first group is back on its networks:
	// until then they are its only way to everyone else.
	if len(errs) == 0 {
		for _, b := range p.Bridges {
			note, err := b.remove(ctx, eng)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			notes = append(notes, note)
		}
	}
	if len(errs) > 0 {
		return "", errors.Join(errs...)
	}
	return strings.Join(notes, "; "), nil
}

// reattach attaches one container to the networks it was cut from, and
// says how each came back: with the same address, or (on a network whose
// subnet the engine picked, when another container took the address
// meanwhile) another one.
func reattach(ctx context.Context, eng *docker.Engine, c partitionedContainer) (string, error) {
	if _, err := eng.Inspect(ctx, c.ID); docker.IsNotFound(err) {
		return "is gone", nil
	} else if err != nil {
		return "", err
	}
	var parts []string
	for _, ep := range c.Endpoints {
		got, err := eng.Reconnect(ctx, c.ID, ep)
		if docker.IsNotFound(err) && strings.Contains(err.Error(), "network") {
			parts = append(parts, "network "+ep.NetworkName+" is gone")
			continue
		}
		if err != nil {
			return "", err
		}
		s := fmt.Sprintf("back on %s as %s", ep.NetworkName, got.IPv4)
		if got.IPv4 != ep.IPv4 {
			s += fmt.Sprintf(" (was %s: the engine picks addresses on a network without a subnet of its own, and it was taken)", ep.IPv4)
		}
		if len(ep.Aliases) > 0 {
			s += " aliases " + strings.Join(ep.Aliases, ",")
			if missing := missingAliases(ep.Aliases, got.Aliases); len(missing) > 0 {
				return "", fmt.Errorf("reattached to %s without aliases %s", ep.NetworkName, strings.Join(missing, ", "))
			}
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", "), nil
}

func missingAliases(want, got []string) []string {
	var missing []string
	for _, a := range want {
		if !slices.Contains(got, a) {
			missing = append(missing, a)
		}
	}
	return missing
}
