package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"
)

// PortBinding publishes a container's TCP port on the host's loopback.
type PortBinding struct {
	ContainerPort int
	HostIP        string // always a loopback address; empty means 127.0.0.1
	HostPort      int    // 0 lets the OS pick
}

// ContainerSpec describes a container to create and start.
type ContainerSpec struct {
	Name    string // optional; the engine picks one when empty
	Image   string
	Cmd     []string // arguments to the image's entrypoint
	Env     []string // KEY=value
	Labels  map[string]string
	Network string   // network name or ID; empty means the engine default
	Aliases []string // DNS names on Network
	Ports   []PortBinding
}

// ContainerInfo is what faultline needs to know about a container.
type ContainerInfo struct {
	ID     string
	Name   string // without the leading slash
	Image  string
	State  string // created, running, paused, restarting, removing, exited, dead
	Labels map[string]string
	Ports  map[int]string // container TCP port -> "127.0.0.1:NNNN" on the host
}

// Selector picks containers. Names match exactly a container's name or ID;
// NameRegex is an RE2 expression matched against names; a container matches
// when it carries every label and, if names or a regex are given, matches
// one of them. An empty selector is an error rather than "every container".
type Selector struct {
	Names     []string
	NameRegex string // RE2, as written after a `re2:` prefix
	Labels    map[string]string
}

// IsEmpty reports whether the selector would match every container.
func (s Selector) IsEmpty() bool {
	return len(s.Names) == 0 && s.NameRegex == "" && len(s.Labels) == 0
}

// CreateNetwork creates a bridge network with labels and returns its ID.
func (e *Engine) CreateNetwork(ctx context.Context, name string, labels map[string]string) (string, error) {
	resp, err := e.cli.NetworkCreate(ctx, name, network.CreateOptions{Driver: "bridge", Labels: labels})
	if err != nil {
		return "", fmt.Errorf("create network %s: %w", name, err)
	}
	return resp.ID, nil
}

// LabelRun carries the ID of a deployment of the bundled shop (one
// experiment run, or one `faultline targets up --docker`) on each of its
// containers and its network, so that everything of one deployment is
// found, and removed, together.
const LabelRun = "faultline.run"

// NetworkInfo is one network as the engine lists it.
type NetworkInfo struct {
	ID, Name string
	Labels   map[string]string
}

// Networks lists the networks carrying every label in labels (an empty
// value matches any value), sorted by name.
func (e *Engine) Networks(ctx context.Context, labels map[string]string) ([]NetworkInfo, error) {
	list, err := e.cli.NetworkList(ctx, network.ListOptions{Filters: labelFilters(labels)})
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	out := make([]NetworkInfo, 0, len(list))
	for _, n := range list {
		out = append(out, NetworkInfo{ID: n.ID, Name: n.Name, Labels: n.Labels})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// RemoveNetwork removes a network. A missing network is not an error.
func (e *Engine) RemoveNetwork(ctx context.Context, id string) error {
	if err := e.cli.NetworkRemove(ctx, id); err != nil && !IsNotFound(err) {
		return fmt.Errorf("remove network %s: %w", id, err)
	}
	return nil
}

// RunContainer creates and starts a container and returns its ID. If the
// start fails, the created container is removed again.
func (e *Engine) RunContainer(ctx context.Context, spec ContainerSpec) (string, error) {
	label := spec.Name
	if label == "" {
		label = spec.Image
	}
	if spec.Image == "" {
		return "", fmt.Errorf("run container %s: image is empty", label)
	}
	cfg := &container.Config{
		Image:  spec.Image,
		Cmd:    spec.Cmd,
		Env:    spec.Env,
		Labels: spec.Labels,
	}
	host := &container.HostConfig{}
	if len(spec.Ports) > 0 {
		cfg.ExposedPorts = nat.PortSet{}
		host.PortBindings = nat.PortMap{}
		for i, p := range spec.Ports {
			if p.ContainerPort <= 0 || p.ContainerPort > 65535 {
				return "", fmt.Errorf("run container %s: ports[%d].container_port %d: out of range", label, i, p.ContainerPort)
			}
			hostIP := p.HostIP
			if hostIP == "" {
				hostIP = "127.0.0.1"
			}
			if ip := net.ParseIP(hostIP); ip == nil || !ip.IsLoopback() {
				return "", fmt.Errorf("run container %s: ports[%d].host_ip %q: only loopback addresses may be published", label, i, hostIP)
			}
			hostPort := ""
			if p.HostPort > 0 {
				hostPort = strconv.Itoa(p.HostPort)
			}
			port := nat.Port(strconv.Itoa(p.ContainerPort) + "/tcp")
			cfg.ExposedPorts[port] = struct{}{}
			host.PortBindings[port] = append(host.PortBindings[port], nat.PortBinding{HostIP: hostIP, HostPort: hostPort})
		}
	}
	var netCfg *network.NetworkingConfig
	if spec.Network != "" {
		host.NetworkMode = container.NetworkMode(spec.Network)
		netCfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			spec.Network: {Aliases: spec.Aliases},
		}}
	}
	created, err := e.cli.ContainerCreate(ctx, cfg, host, netCfg, nil, spec.Name)
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", label, err)
	}
	if err := e.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		rmErr := e.RemoveContainer(context.WithoutCancel(ctx), created.ID)
		return "", errors.Join(fmt.Errorf("start container %s: %w", label, err), rmErr)
	}
	return created.ID, nil
}

// RemoveContainer force-removes a container, running or not. A missing
// container is not an error, and neither is one that another client is
// removing already (two `chaos cleanup` runs at once, or a cleanup beside a
// run's own teardown): the engine refuses the second removal while the
// first goes on, so RemoveContainer asks again until the container is gone,
// for up to removalWait.
func (e *Engine) RemoveContainer(ctx context.Context, id string) error {
	deadline := time.Now().Add(removalWait)
	for {
		err := e.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
		if err == nil || IsNotFound(err) {
			return nil
		}
		if !removalInProgress(err) || time.Now().After(deadline) {
			return fmt.Errorf("remove container %s: %w", id, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("remove container %s: %w", id, errors.Join(err, ctx.Err()))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// removalWait bounds how long RemoveContainer waits for another client's
// removal of the same container to end.
const removalWait = 30 * time.Second

// removalInProgress reports the engine's refusal to remove a container that
// another request is removing (HTTP 409, "removal of container ... is
// already in progress").
func removalInProgress(err error) bool {
	return cerrdefs.IsConflict(err) && strings.Contains(err.Error(), "already in progress")
}

// Inspect returns the state of one container, by ID or name.
func (e *Engine) Inspect(ctx context.Context, id string) (ContainerInfo, error) {
	c, err := e.cli.ContainerInspect(ctx, id)
	if err != nil {
		return ContainerInfo{}, fmt.Errorf("inspect container %s: %w", id, err)
	}
	info := ContainerInfo{
		ID:    c.ID,
		Name:  strings.TrimPrefix(c.Name, "/"),
		Ports: map[int]string{},
	}
	if c.Config != nil {
		info.Image = c.Config.Image
		info.Labels = c.Config.Labels
	}
	if c.State != nil {
		info.State = c.State.Status
	}
	if c.NetworkSettings != nil {
		for port, bindings := range c.NetworkSettings.Ports {
			if port.Proto() != "tcp" {
				continue
			}
			if addr := pickBinding(bindings); addr != "" {
				info.Ports[port.Int()] = addr
			}
		}
	}
	return info, nil
}

// pickBinding prefers an IPv4 binding, since that is what faultline publishes.
func pickBinding(bindings []nat.PortBinding) string {
	best := ""
	for _, b := range bindings {
		if b.HostPort == "" {
			continue
		}
		ip := b.HostIP
		if ip == "" || ip == "0.0.0.0" {
			ip = "127.0.0.1"
		}
		addr := net.JoinHostPort(ip, b.HostPort)
		if strings.Contains(ip, ":") {
			if best == "" {
				best = addr
			}
			continue
		}
		return addr
	}
	return best
}

// List returns the containers sel picks, in every state, sorted by name.
func (e *Engine) List(ctx context.Context, sel Selector) ([]ContainerInfo, error) {
	if sel.IsEmpty() {
		return nil, errEmptySelector
	}
	var re *regexp.Regexp
	if sel.NameRegex != "" {
		var err error
		if re, err = regexp.Compile(sel.NameRegex); err != nil {
			return nil, fmt.Errorf("selector name regex: %w", err)
		}
	}
	summaries, err := e.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: labelFilters(sel.Labels)})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var out []ContainerInfo
	for _, s := range summaries {
		info := fromSummary(s)
		if !matchesNames(sel, re, info) {
			continue
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func matchesNames(sel Selector, re *regexp.Regexp, info ContainerInfo) bool {
	if len(sel.Names) == 0 && re == nil {
		return true
	}
	for _, n := range sel.Names {
		n = strings.TrimPrefix(n, "/")
		if n == info.Name || n == info.ID || (len(n) >= 12 && strings.HasPrefix(info.ID, n)) {
			return true
		}
	}
	return re != nil && re.MatchString(info.Name)
}

func fromSummary(s container.Summary) ContainerInfo {
	info := ContainerInfo{
		ID:     s.ID,
		Image:  s.Image,
		State:  s.State,
		Labels: s.Labels,
		Ports:  map[int]string{},
	}
	if len(s.Names) > 0 {
		info.Name = strings.TrimPrefix(s.Names[0], "/")
	}
	for _, p := range s.Ports {
		if p.Type != "tcp" || p.PublicPort == 0 {
			continue
		}
		ip := p.IP
		if ip == "" || ip == "0.0.0.0" {
			ip = "127.0.0.1"
		}
		addr := net.JoinHostPort(ip, strconv.Itoa(int(p.PublicPort)))
		if _, seen := info.Ports[int(p.PrivatePort)]; seen && strings.Contains(ip, ":") {
			continue
		}
		info.Ports[int(p.PrivatePort)] = addr
	}
	return info
}

func labelFilters(labels map[string]string) filters.Args {
	args := filters.NewArgs()
	for k, v := range labels {
		if v == "" {
			args.Add("label", k)
		} else {
			args.Add("label", k+"="+v)
		}
	}
	return args
}

// Kill sends signal (such as "SIGKILL" or "SIGTERM"; empty means SIGKILL)
// to the container's main process.
func (e *Engine) Kill(ctx context.Context, id, signal string) error {
	if err := e.cli.ContainerKill(ctx, id, signal); err != nil {
		return fmt.Errorf("kill container %s: %w", id, err)
	}
	return nil
}

// stopOptions turns a grace period into the engine's whole seconds; a
// timeout <= 0 leaves the container's default (10 s).
func stopOptions(timeout time.Duration) container.StopOptions {
	if timeout <= 0 {
		return container.StopOptions{}
	}
	secs := int(math.Ceil(timeout.Seconds()))
	return container.StopOptions{Timeout: &secs}
}

// Stop sends SIGTERM and, after timeout (rounded up to whole seconds; <= 0
// means the container's default of 10 s), SIGKILL.
func (e *Engine) Stop(ctx context.Context, id string, timeout time.Duration) error {
	if err := e.cli.ContainerStop(ctx, id, stopOptions(timeout)); err != nil {
		return fmt.Errorf("stop container %s: %w", id, err)
	}
	return nil
}

// Start starts a created or stopped container.
func (e *Engine) Start(ctx context.Context, id string) error {
	if err := e.cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return fmt.Errorf("start container %s: %w", id, err)
	}
	return nil
}

// Restart stops (with the grace period of Stop) and starts a container.
func (e *Engine) Restart(ctx context.Context, id string, timeout time.Duration) error {
	if err := e.cli.ContainerRestart(ctx, id, stopOptions(timeout)); err != nil {
		return fmt.Errorf("restart container %s: %w", id, err)
	}
	return nil
}

// Pause freezes every process of a container.
func (e *Engine) Pause(ctx context.Context, id string) error {
	if err := e.cli.ContainerPause(ctx, id); err != nil {
		return fmt.Errorf("pause container %s: %w", id, err)
	}
	return nil
}

// Unpause thaws a paused container.
func (e *Engine) Unpause(ctx context.Context, id string) error {
	if err := e.cli.ContainerUnpause(ctx, id); err != nil {
		return fmt.Errorf("unpause container %s: %w", id, err)
	}
	return nil
}

// Logs returns the last tail lines (all when tail <= 0) of a container's
// stdout and stderr, interleaved.
func (e *Engine) Logs(ctx context.Context, id string, tail int) (string, error) {
	opts := container.LogsOptions{ShowStdout: true, ShowStderr: true}
	if tail > 0 {
		opts.Tail = strconv.Itoa(tail)
	}
	rc, err := e.cli.ContainerLogs(ctx, id, opts)
	if err != nil {
		return "", fmt.Errorf("logs of container %s: %w", id, err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := stdcopy.StdCopy(&buf, &buf, rc); err != nil {
		return buf.String(), fmt.Errorf("logs of container %s: %w", id, err)
	}
	return buf.String(), nil
}

// RemoveByLabel force-removes every container, then every network, then
// every image carrying the label key=value (any value when value is empty).
// It carries on past failures and reports all of them.
func (e *Engine) RemoveByLabel(ctx context.Context, key, value string) error {
	if key == "" {
		return errors.New("remove by label: label key is empty")
	}
	args := labelFilters(map[string]string{key: value})
	var errs []error

	containers, err := e.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: args})
	if err != nil {
		errs = append(errs, fmt.Errorf("list containers: %w", err))
	}
	for _, c := range containers {
		if err := e.RemoveContainer(ctx, c.ID); err != nil {
			errs = append(errs, err)
		}
	}

	networks, err := e.cli.NetworkList(ctx, network.ListOptions{Filters: args})
	if err != nil {
		errs = append(errs, fmt.Errorf("list networks: %w", err))
	}
	for _, n := range networks {
		if err := e.RemoveNetwork(ctx, n.ID); err != nil {
			errs = append(errs, err)
		}
	}

	images, err := e.cli.ImageList(ctx, image.ListOptions{All: true, Filters: args})
	if err != nil {
		errs = append(errs, fmt.Errorf("list images: %w", err))
	}
	for _, im := range images {
		if err := e.RemoveImage(ctx, im.ID); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("remove by label %s=%s: %w", key, value, errors.Join(errs...))
	}
	return nil
}

// CountByLabel counts the containers, networks and images carrying the label
// key=value, so callers and tests can check that nothing was left behind.
func (e *Engine) CountByLabel(ctx context.Context, key, value string) (containers, networks, images int, err error) {
	args := labelFilters(map[string]string{key: value})
	cs, err := e.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: args})
	if err != nil {
		return 0, 0, 0, fmt.Errorf("list containers: %w", err)
	}
	ns, err := e.cli.NetworkList(ctx, network.ListOptions{Filters: args})
	if err != nil {
		return 0, 0, 0, fmt.Errorf("list networks: %w", err)
	}
	is, err := e.cli.ImageList(ctx, image.ListOptions{All: true, Filters: args})
	if err != nil {
		return 0, 0, 0, fmt.Errorf("list images: %w", err)
	}
	return len(cs), len(ns), len(is), nil
}
