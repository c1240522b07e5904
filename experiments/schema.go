package experiments

import (
	"time"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/targets"
)

// Experiment is an experiment file as written. docs/experiments.md documents
// every field; schema/experiment.schema.json is generated from these types.
type Experiment struct {
	// Name identifies the experiment in reports.
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Tags        []string `yaml:"tags"`
	// Seed makes every random choice of the run repeatable (victims picked
	// by faults, Poisson arrivals, the bootstrap); 0 picks 1.
	Seed uint64 `yaml:"seed"`

	Targets     TargetsSpec         `yaml:"targets"`
	Toxiproxy   ToxiproxySpec       `yaml:"toxiproxy"`
	Proxies     []ProxySpec         `yaml:"proxies"`
	Load        LoadSpec            `yaml:"load"`
	SteadyState SteadyStateSpec     `yaml:"steady_state"`
	Phases      []PhaseSpec         `yaml:"phases"`
	Hypothesis  map[string][]string `yaml:"hypothesis"`
	Abort       []string            `yaml:"abort"`
	Rollbacks   []ActionSpec        `yaml:"rollbacks"`
	Report      ReportSpec          `yaml:"report"`
}

// TargetsSpec says what the load and the faults act on: the bundled shop
// (shop: true, tuned by the same fields as `faultline targets up --config`)
// and external services by name.
type TargetsSpec struct {
	// Shop starts the bundled reference services in-process.
	Shop bool `yaml:"shop"`
	// Only starts a subset of the shop's services.
	Only []string `yaml:"only"`
	// Docker runs the shop's services as containers on a private Docker
	// network (labelled faultline.run=${run.id} and
	// faultline.service=NAME) instead of in-process, so container faults
	// can act on them. Links between containers cannot be proxied.
	Docker bool `yaml:"docker"`
	// Image is the targets image Docker mode runs; empty builds one FROM
	// scratch around the running faultline binary (which must be static:
	// CGO_ENABLED=0).
	Image string `yaml:"image"`
	// External names base URLs of services faultline does not start, so
	// that ${targets.NAME} works for them too.
	External map[string]string `yaml:"external"`
	// Kubernetes is the cluster the run acts on: where the shop is deployed
	// (shop: true) or where the user's own Services are, and the cluster of
	// pod faults and kubernetes probes.
	Kubernetes *KubernetesTargets `yaml:"kubernetes"`
	// The shop's pattern settings: seed, gateway, catalog, orders, store.
	targets.Config `yaml:",inline"`
}

// KubernetesTargets is the cluster an experiment acts on: the namespace
// where faultline deploys its shop for the run (shop: true), or where the
// user's own Services are (services:), and how to reach the cluster. The
// same cluster serves the pod faults and the kubernetes probes; `faultline
// run --kubeconfig, --context, --namespace` override these fields, and
// ${kubernetes.namespace} names the namespace in effect.
type KubernetesTargets struct {
	// Namespace is where the shop goes and the user's Services are; it
	// must exist (required).
	Namespace string `yaml:"namespace"`
	// Kubeconfig is the kubeconfig file, relative to the experiment file
	// (default $KUBECONFIG, else ~/.kube/config; in a pod, its service
	// account).
	Kubeconfig string `yaml:"kubeconfig"`
	// Context is the kubeconfig context (default the current one).
	Context string `yaml:"context"`
	// Shop deploys the bundled shop as Deployments and Services for the
	// run, and removes it after, also when the run fails. The shop's
	// pattern settings (gateway, catalog, ...) apply as with shop: true.
	Shop bool `yaml:"shop"`
	// Image is the targets image the shop's pods run; it must be in the
	// cluster's reach (default faultline/targets:latest).
	Image string `yaml:"image"`
	// Replicas of each shop service (default 1), such as catalog: 2.
	Replicas map[string]int `yaml:"replicas"`
	// Services names Services of the namespace as SERVICE or SERVICE:PORT
	// (a port number or name; default its first port), so that
	// ${targets.NAME} is http://CLUSTER-IP:PORT.
	Services map[string]string `yaml:"services"`
}

// ToxiproxySpec picks the Toxiproxy server: embedded in faultline (the
// default) or an external one at URL.
type ToxiproxySpec struct {
	URL string `yaml:"url"`
}

// ProxySpec is a Toxiproxy proxy the experiment creates at the start and
// deletes at the end, so traffic between services crosses it.
type ProxySpec struct {
	Name string `yaml:"name"`
	// Listen defaults to 127.0.0.1 on a port the OS picks.
	Listen string `yaml:"listen"`
	// Upstream is where the proxy forwards: host:port or a URL, often
	// ${targets.store}. With Link it defaults to the link's destination.
	Upstream string `yaml:"upstream"`
	// Link routes a link of the bundled shop ("catalog->store") through the
	// proxy.
	Link string `yaml:"link"`
}

// LoadSpec is the one load that runs through every phase: everything
// `faultline load` offers.
type LoadSpec struct {
	// Rate selects the open model ("200/s"); Concurrency the closed one.
	// A phase may change either for its own duration.
	Rate           string        `yaml:"rate"`
	Concurrency    int           `yaml:"concurrency"`
	ThinkTime      time.Duration `yaml:"think_time"`
	Poisson        bool          `yaml:"poisson"`
	Connections    int           `yaml:"connections"`
	MaxInFlight    int           `yaml:"max_in_flight"`
	Timeout        time.Duration `yaml:"timeout"`
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	HTTP2          bool          `yaml:"http2"`
	Insecure       bool          `yaml:"insecure"`
	Requests       []RequestSpec `yaml:"requests"`
	// Thresholds are `faultline load` thresholds over the whole run.
	Thresholds []string `yaml:"thresholds"`
	// Generators runs the load on this many generators, each a segment of
	// the schedule, whose intervals are merged before anything is judged
	// (docs/distributed.md): worker processes on this machine, or pods
	// with faultline run --on kubernetes. 0: this process alone.
	Generators int `yaml:"generators"`
}

// RequestSpec is one kind of request of the load.
type RequestSpec struct {
	Name     string            `yaml:"name"`
	Method   string            `yaml:"method"`
	URL      string            `yaml:"url"`
	Headers  map[string]string `yaml:"headers"`
	Body     string            `yaml:"body"`
	BodyFile string            `yaml:"body_file"`
	Weight   int               `yaml:"weight"`
}

// SteadyStateSpec lists the probes that must hold before the first fault
// (else nothing is injected and the run exits 3) and again after the last
// phase.
type SteadyStateSpec struct {
	Probes []ProbeSpec `yaml:"probes"`
}

// ProbeSpec is one check of the system: an expression over the load's own
// metrics (expect alone), or a probe of a registered kind (http,
// prometheus, command, ...), under that kind's key.
type ProbeSpec struct {
	Name string `yaml:"name"`
	// Expect is an expression: over the load's metrics for a metric probe
	// ("p99 < 100ms"), or over the probe's value for a probe that reads
	// one, such as Prometheus ("value < 5").
	Expect string `yaml:"expect"`
	// Kind is the probe kind's key, and Check its fields; none for a
	// metric probe.
	Kind  string     `yaml:"-"`
	Check probeCheck `yaml:"-"`
}

// PhaseSpec is one stretch of the timeline.
type PhaseSpec struct {
	Name     string        `yaml:"name"`
	Duration time.Duration `yaml:"duration"`
	// Rate or Concurrency change the load for this phase.
	Rate        string `yaml:"rate"`
	Concurrency int    `yaml:"concurrency"`
	// Baseline marks the phase that "baseline.X" names in expressions, and
	// that time_to_recover compares with (default: the first phase).
	Baseline bool        `yaml:"baseline"`
	Faults   []FaultSpec `yaml:"faults"`
}

// FaultSpec is a fault of any kind chaos knows, placed inside its phase: it
// is injected At after the phase starts and reverted For later (default:
// at the end of the phase). Its other fields are its kind's own
// (docs/chaos.md), decoded strictly into the kind's struct, Fault.
type FaultSpec struct {
	// Kind is the fault kind.
	Kind  string        `yaml:"kind"`
	At    time.Duration `yaml:"at"`
	For   time.Duration `yaml:"for"`
	Fault chaos.Fault   `yaml:"-"`
}

// ActionSpec is a rollback: an HTTP call or a command, run at the end of
// every run, whatever happened.
type ActionSpec struct {
	Name    string        `yaml:"name"`
	HTTP    *HTTPProbe    `yaml:"http"`
	Command []string      `yaml:"command"`
	Timeout time.Duration `yaml:"timeout"`
}

// ReportSpec says which outputs to write and where.
type ReportSpec struct {
	// Dir is where the journal and reports go (default
	// faultline-out/NAME-TIMESTAMP).
	Dir string `yaml:"dir"`
	// Formats lists the reports written besides the journal, which is
	// always written: any format `faultline report` renders (default:
	// junit, markdown, hlog and html). Markdown is also appended to
	// $GITHUB_STEP_SUMMARY when it is set.
	Formats []string `yaml:"formats"`
}
