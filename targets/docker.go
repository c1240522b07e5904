package targets

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/faultline-dev/faultline/chaos/docker"
	"github.com/faultline-dev/faultline/internal/proc"
)

// DefaultImage is the tag `faultline targets image` builds.
const DefaultImage = "faultline/targets:latest"

// ContainerPort is the port every service listens on inside its container.
const ContainerPort = 8080

// ConfigEnv is the environment variable through which `targets serve` may
// receive its whole configuration as YAML (a `targets:` block); the Docker
// mode passes the configuration to the containers this way.
const ConfigEnv = "FAULTLINE_TARGETS_CONFIG"

// Labels put on what the Docker mode creates.
const (
	LabelRun     = docker.LabelRun     // the run's ID, on containers and the network
	LabelService = "faultline.service" // the service a container runs
	LabelImage   = "faultline.image"   // "targets" on the image
)

// ImageOptions says how to build the targets image.
type ImageOptions struct {
	// Binary is a static (CGO_ENABLED=0) Linux faultline binary; empty
	// means the running executable.
	Binary string
	// Tag defaults to DefaultImage.
	Tag string
	// Labels are added to the image (besides faultline.image=targets).
	Labels map[string]string
}

// BuildImage builds the targets image FROM scratch around a static faultline
// binary, through the engine's build API: no base image, nothing pulled. It
// returns the image ID.
func BuildImage(ctx context.Context, eng *docker.Engine, opts ImageOptions) (string, error) {
	bin := opts.Binary
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("find the faultline binary: %w", err)
		}
		bin = exe
	}
	if err := CheckStaticBinary(bin); err != nil {
		return "", err
	}
	tag := opts.Tag
	if tag == "" {
		tag = DefaultImage
	}
	labels := maps.Clone(opts.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelImage] = "targets"
	return eng.BuildImage(ctx, docker.ImageSpec{
		Tag:        tag,
		Files:      []docker.ImageFile{{HostPath: bin, ImagePath: "/faultline", Mode: 0o755}},
		Entrypoint: []string{"/faultline"},
		Labels:     labels,
	})
}

// BuildImageWithEngine connects to the Docker Engine named by the
// environment, builds the targets image with BuildImage and disconnects.
func BuildImageWithEngine(ctx context.Context, opts ImageOptions) (string, error) {
	eng, err := docker.Connect(ctx)
	if err != nil {
		return "", err
	}
	defer eng.Close()
	return BuildImage(ctx, eng, opts)
}

// CheckStaticBinary returns an error unless path is a statically linked
// Linux executable, which is all a FROM scratch image can run.
func CheckStaticBinary(path string) error {
	if err := docker.CheckStaticBinary(path); err != nil {
		return fmt.Errorf("%w (or pass a static one with --binary)", err)
	}
	return nil
}

// DockerOptions says how StartDocker runs the shop in containers.
type DockerOptions struct {
	// Only lists the services to start; empty means all. Each started
	// service's upstreams must be started too.
	Only []string
	// Image is an existing targets image; empty means build one with
	// ImageOptions first.
	Image        string
	ImageOptions ImageOptions
	// RunID labels everything created (faultline.run=<id>) and names it;
	// empty means a random one.
	RunID string
	// Labels are added to every container and the network.
	Labels map[string]string
	// ReadyTimeout bounds the wait for every service to answer /readyz;
	// 0 means 60s.
	ReadyTimeout time.Duration
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
}

// DockerShop is the shop running as containers on a private network. Each
// container reaches the next by its network alias (http://store:8080); every
// service's port is published on 127.0.0.1 at a port the OS picks.
type DockerShop struct {
	eng        *docker.Engine
	runID      string
	network    string
	order      []string
	containers map[string]docker.ContainerInfo
}

// StartDocker builds (or takes) the targets image, creates a private
// network and one container per service, labelled faultline.run=<id>,
// faultline.service=<name> and with this process's identity
// (faultline.owner.pid, .start, .host), and waits until every service is
// ready. On error it removes everything it created.
func StartDocker(ctx context.Context, cfg Config, opts DockerOptions) (_ *DockerShop, err error) {
	names, err := dockerServices(cfg, opts.Only)
	if err != nil {
		return nil, err
	}
	cfgYAML, err := cfg.YAML()
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	runID := opts.RunID
	if runID == "" {
		var b [4]byte
		rand.Read(b[:])
		runID = hex.EncodeToString(b[:])
	}
	eng, err := docker.Connect(ctx)
	if err != nil {
		return nil, err
	}
	d := &DockerShop{eng: eng, runID: runID, network: "faultline-" + runID, containers: map[string]docker.ContainerInfo{}}
	defer func() {
		if err != nil {
			err = errors.Join(err, d.Close(context.WithoutCancel(ctx)))
		}
	}()

	image := opts.Image
	if image == "" {
		logger.Info("building image", "binary", opts.ImageOptions.Binary)
		if image, err = BuildImage(ctx, eng, opts.ImageOptions); err != nil {
			return nil, err
		}
	}
	labels := maps.Clone(opts.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelRun] = runID
	// The owner's identity lets `faultline chaos cleanup` remove the shop
	// once this process has ended without closing it (a SIGKILL).
	maps.Copy(labels, proc.Self().Labels())
	if _, err := eng.CreateNetwork(ctx, d.network, labels); err != nil {
		return nil, err
	}
	for _, n := range names {
		info, err := d.startContainer(ctx, n, image, labels, cfgYAML)
		if err != nil {
			return nil, err
		}
		logger.Info("container started", "service", n, "container", info.Name, "addr", info.Ports[ContainerPort])
	}
	if err := d.waitAllReady(ctx, opts.ReadyTimeout); err != nil {
		return nil, err
	}
	return d, nil
}

// dockerServices validates cfg and returns the services of only (all when
// empty). Each one's upstreams must be among them: a container reaches its
// upstreams by their aliases on the private network, and DockerOptions has
// no way to point a link elsewhere.
func dockerServices(cfg Config, only []string) ([]string, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	names, err := CheckServices(only)
	if err != nil {
		return nil, fmt.Errorf("only: %w", err)
	}
	for _, n := range names {
		for _, up := range upstreamsOf(n) {
			if !slices.Contains(names, up) {
				return nil, fmt.Errorf("%s needs %s: start it too", n, up)
			}
		}
	}
	return names, nil
}

// startContainer runs service name on the shop's network, labelled with
// labels plus its service name, with its upstreams addressed by their
// aliases and its port published on 127.0.0.1, and records it in start
// order.
func (d *DockerShop) startContainer(ctx context.Context, name, image string, labels map[string]string, cfgYAML []byte) (docker.ContainerInfo, error) {
	cmd := []string{"targets", "serve", name, "--listen", ":" + strconv.Itoa(ContainerPort)}
	for _, up := range upstreamsOf(name) {
		cmd = append(cmd, "--upstream", fmt.Sprintf("%s=http://%s:%d", up, up, ContainerPort))
	}
	cl := maps.Clone(labels)
	cl[LabelService] = name
	id, err := d.eng.RunContainer(ctx, docker.ContainerSpec{
		Name:    d.network + "-" + name,
		Image:   image,
		Cmd:     cmd,
		Env:     []string{ConfigEnv + "=" + string(cfgYAML)},
		Labels:  cl,
		Network: d.network,
		Aliases: []string{name},
		Ports:   []docker.PortBinding{{ContainerPort: ContainerPort, HostIP: "127.0.0.1"}},
	})
	if err != nil {
		return docker.ContainerInfo{}, err
	}
	info, err := d.eng.Inspect(ctx, id)
	if err != nil {
		return docker.ContainerInfo{}, err
	}
	if info.Ports[ContainerPort] == "" {
		return docker.ContainerInfo{}, fmt.Errorf("container %s: port %d not published", info.Name, ContainerPort)
	}
	d.containers[name] = info
	d.order = append(d.order, name)
	return info, nil
}

// waitAllReady waits for every started service in turn, all within one
// timeout (0 means 60s) rather than one each, so a start has a known bound.
func (d *DockerShop) waitAllReady(ctx context.Context, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, n := range d.order {
		if err := d.waitReady(rctx, n); err != nil {
			return err
		}
	}
	return nil
}

// waitReady polls a service's /readyz until it answers 200; if its
// container exits meanwhile, the error carries the end of its logs.
func (d *DockerShop) waitReady(ctx context.Context, name string) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	info := d.containers[name]
	url := d.URL(name) + "/readyz"
	for i := 0; ; i++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if i%10 == 9 {
			if st, ierr := d.eng.Inspect(ctx, info.ID); ierr == nil && st.State != "running" {
				logs, _ := d.eng.Logs(context.WithoutCancel(ctx), info.ID, 20)
				return fmt.Errorf("%s: container %s is %s:\n%s", name, info.Name, st.State, logs)
			}
		}
		if serr := sleep(ctx, 100*time.Millisecond); serr != nil {
			return fmt.Errorf("%s: not ready at %s: %w (last: %v)", name, url, serr, err)
		}
	}
}

// RunID is the value of the faultline.run label on everything created.
func (d *DockerShop) RunID() string { return d.runID }

// Network is the name of the private network.
func (d *DockerShop) Network() string { return d.network }

// Names lists the services in start order.
func (d *DockerShop) Names() []string { return slices.Clone(d.order) }

// Container returns the container of a service.
func (d *DockerShop) Container(name string) (docker.ContainerInfo, bool) {
	c, ok := d.containers[name]
	return c, ok
}

// Addr is a service's published host:port on 127.0.0.1, or "".
func (d *DockerShop) Addr(name string) string { return d.containers[name].Ports[ContainerPort] }

// URL is a service's published base URL, or "".
func (d *DockerShop) URL(name string) string {
	return baseURL(d.Addr(name))
}

// Table returns one row per service: name, published address and URL.
func (d *DockerShop) Table() [][3]string {
	return addrTable(d.order, d.Addr)
}

// Close force-removes every container and the network labelled with this
// run's ID (also those of a start that failed half-way), then closes the
// engine connection. It uses its own time bound, so a cancelled ctx still
// cleans up.
func (d *DockerShop) Close(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer cancel()
	err := d.eng.RemoveByLabel(cctx, LabelRun, d.runID)
	return errors.Join(err, d.eng.Close())
}
