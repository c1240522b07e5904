package docker

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/network"
)

// Endpoint is a container's attachment to one network: what it takes to
// attach it again as it was.
type Endpoint struct {
	NetworkID   string `json:"network_id"`
	NetworkName string `json:"network_name"`
	// Aliases are the container's DNS names on the network that were given
	// when it was attached (the engine adds the container's short ID itself).
	Aliases []string `json:"aliases,omitempty"`
	Links   []string `json:"links,omitempty"`
	// IPv4 and IPv6 are the addresses the container had there.
	IPv4 string `json:"ipv4,omitempty"`
	IPv6 string `json:"ipv6,omitempty"`
	// StaticIPv4 and StaticIPv6 say the addresses were asked for (--ip),
	// not picked by the engine.
	StaticIPv4  bool              `json:"static_ipv4,omitempty"`
	StaticIPv6  bool              `json:"static_ipv6,omitempty"`
	LinkLocalIP []string          `json:"link_local_ips,omitempty"`
	DriverOpts  map[string]string `json:"driver_opts,omitempty"`
}

// Networking is how a container is attached to networks.
type Networking struct {
	// Mode is the container's network mode: "bridge", a network's name,
	// "host", "none", "container:ID" and so on.
	Mode      string
	Endpoints []Endpoint // sorted by network name
}

// Networking returns the networks a container is attached to, and how.
func (e *Engine) Networking(ctx context.Context, id string) (Networking, error) {
	c, err := e.cli.ContainerInspect(ctx, id)
	if err != nil {
		return Networking{}, fmt.Errorf("inspect container %s: %w", id, err)
	}
	var n Networking
	if c.HostConfig != nil {
		n.Mode = string(c.HostConfig.NetworkMode)
	}
	if c.NetworkSettings == nil {
		return n, nil
	}
	short := c.ID[:min(12, len(c.ID))]
	for name, s := range c.NetworkSettings.Networks {
		if s == nil {
			continue
		}
		ep := Endpoint{
			NetworkID: s.NetworkID, NetworkName: name, Links: s.Links,
			IPv4: s.IPAddress, IPv6: s.GlobalIPv6Address, DriverOpts: s.DriverOpts,
			Aliases: slices.DeleteFunc(slices.Clone(s.Aliases), func(a string) bool { return a == short }),
		}
		if cfg := s.IPAMConfig; cfg != nil {
			ep.StaticIPv4, ep.StaticIPv6 = cfg.IPv4Address != "", cfg.IPv6Address != ""
			ep.LinkLocalIP = cfg.LinkLocalIPs
		}
		n.Endpoints = append(n.Endpoints, ep)
	}
	sort.Slice(n.Endpoints, func(i, j int) bool { return n.Endpoints[i].NetworkName < n.Endpoints[j].NetworkName })
	return n, nil
}

// Disconnect detaches a container from a network. A container that is not
// attached to it is not an error.
func (e *Engine) Disconnect(ctx context.Context, networkID, id string) error {
	err := e.cli.NetworkDisconnect(ctx, networkID, id, true)
	if err != nil && !isNotConnected(err) {
		return fmt.Errorf("disconnect container %s from network %s: %w", id, networkID, err)
	}
	return nil
}

// isNotConnected reports whether err says the container was not attached.
func isNotConnected(err error) bool {
	return strings.Contains(err.Error(), "is not connected to")
}

// Reconnect attaches a container to a network again with the settings ep
// recorded: its aliases, links, driver options and, when the engine allows
// it, its previous addresses. The engine accepts an address only on a
// network created with a subnet of its own (--subnet); elsewhere it picks
// one, which Reconnect reports in the returned endpoint so the caller can
// compare. A container already attached is left as it is.
func (e *Engine) Reconnect(ctx context.Context, id string, ep Endpoint) (Endpoint, error) {
	settings := &network.EndpointSettings{Aliases: ep.Aliases, Links: ep.Links, DriverOpts: ep.DriverOpts}
	if ep.IPv4 != "" || ep.IPv6 != "" || len(ep.LinkLocalIP) > 0 {
		settings.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: ep.IPv4, IPv6Address: ep.IPv6, LinkLocalIPs: ep.LinkLocalIP}
	}
	err := e.cli.NetworkConnect(ctx, ep.NetworkID, id, settings)
	if err != nil && settings.IPAMConfig != nil && isNoUserSubnet(err) && !ep.StaticIPv4 && !ep.StaticIPv6 {
		settings.IPAMConfig = nil
		err = e.cli.NetworkConnect(ctx, ep.NetworkID, id, settings)
	}
	if err != nil && !isAlreadyConnected(err) {
		return Endpoint{}, fmt.Errorf("connect container %s to network %s: %w", id, ep.NetworkName, err)
	}
	now, err := e.Networking(ctx, id)
	if err != nil {
		return Endpoint{}, err
	}
	for _, got := range now.Endpoints {
		if got.NetworkID == ep.NetworkID {
			return got, nil
		}
	}
	return Endpoint{}, fmt.Errorf("container %s: not attached to network %s after connecting it", id, ep.NetworkName)
}

// isNoUserSubnet reports whether err is the engine refusing an address on
// a network whose subnet it picked itself.
func isNoUserSubnet(err error) bool {
	// "...only when connecting to networks with user configured subnets"
	// on a user-defined network, "...on user defined networks only" on the
	// default bridge.
	return strings.Contains(err.Error(), "user specified IP address is supported")
}

// isAlreadyConnected reports whether err says the container is attached.
func isAlreadyConnected(err error) bool {
	return strings.Contains(err.Error(), "already exists in network")
}

// NetworkDetail is what a partition between two groups needs of a network:
// its kind, and which containers are attached to it now.
type NetworkDetail struct {
	ID, Name, Driver string
	Internal         bool
	Options, Labels  map[string]string
	// Containers maps the ID of each container attached now to its name.
	Containers map[string]string
}

// InspectNetwork returns a network's detail, by name or ID.
func (e *Engine) InspectNetwork(ctx context.Context, idOrName string) (NetworkDetail, error) {
	n, err := e.cli.NetworkInspect(ctx, idOrName, network.InspectOptions{})
	if err != nil {
		return NetworkDetail{}, fmt.Errorf("inspect network %s: %w", idOrName, err)
	}
	d := NetworkDetail{ID: n.ID, Name: n.Name, Driver: n.Driver, Internal: n.Internal, Options: n.Options, Labels: n.Labels, Containers: map[string]string{}}
	for id, c := range n.Containers {
		d.Containers[id] = c.Name
	}
	return d, nil
}

// CreateBridge creates a bridge network with labels, internal (no route
// out) or not, and the bridge driver options given, and returns its ID. A
// network of that name that exists already, carrying the labels, is
// taken as it is: a create that was retried.
func (e *Engine) CreateBridge(ctx context.Context, name string, internal bool, options, labels map[string]string) (string, error) {
	resp, err := e.cli.NetworkCreate(ctx, name, network.CreateOptions{Driver: "bridge", Internal: internal, Options: options, Labels: labels})
	if err == nil {
		return resp.ID, nil
	}
	if d, ierr := e.InspectNetwork(ctx, name); ierr == nil && d.Name == name && labelsCarried(d.Labels, labels) {
		return d.ID, nil
	}
	return "", fmt.Errorf("create network %s: %w", name, err)
}

func labelsCarried(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}
