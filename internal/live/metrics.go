// Package live carries a load's figures out while it runs: the Prometheus
// exposition format on --metrics-addr, and remote write (1.0, with native
// histograms) to --prometheus-remote-write. Both read one Metrics, which the
// run feeds once per interval from the interval's statistics: the engine's
// hot path records into its HdrHistograms as it always does, and what this
// package adds costs per interval and per distinct latency value, not per
// request.
package live

import (
	"runtime"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/faultline-dev/faultline/loadgen"
)

// The series, by name. Every one starts faultline_.
const (
	RequestsName  = "faultline_requests_total"
	ResponsesName = "faultline_responses_total"
	ErrorsName    = "faultline_transport_errors_total"
	ScheduledName = "faultline_requests_scheduled_total"
	DroppedName   = "faultline_requests_dropped_total"
	LatencyName   = "faultline_request_latency_seconds"
	SendLagName   = "faultline_send_lag_seconds"
	PhaseName     = "faultline_phase"
	FaultName     = "faultline_fault_active"
	CPUName       = "faultline_generator_cpu_seconds_total"
	CoresName     = "faultline_generator_cores"
	IntervalName  = "faultline_interval_end_timestamp_seconds"
)

type nameOutcome struct{ name, outcome string }
type nameLabel struct{ name, label string }

// Metrics is the run's cumulative figures. Interval adds one interval to
// them; Collect (a prometheus.Collector) reads them. It is safe for the
// one feeding goroutine and any number of readers.
type Metrics struct {
	mu        sync.Mutex
	requests  map[nameOutcome]uint64
	responses map[nameLabel]uint64 // by name and HTTP status
	errors    map[nameLabel]uint64 // by name and error class
	latency   map[nameOutcome]*histogram
	sendLag   *histogram
	scheduled uint64
	dropped   uint64
	phases    []string // every phase seen, in order
	phase     string   // the current one
	faults    map[string]int
	cpu       time.Duration
	cpuStart  time.Duration
	lastEnd   time.Time
}

// NewMetrics returns empty figures; the generator's CPU counts from now.
func NewMetrics() *Metrics {
	return &Metrics{
		requests: map[nameOutcome]uint64{}, responses: map[nameLabel]uint64{}, errors: map[nameLabel]uint64{},
		latency: map[nameOutcome]*histogram{}, sendLag: newHistogram(), faults: map[string]int{},
		cpuStart: processCPU(),
	}
}

// Interval adds one interval of the load. phase is the phase it fell in
// ("" for a plain load) and faults the kinds of the faults active then.
func (m *Metrics) Interval(iv *loadgen.Stats, phase string, faults []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range iv.Series {
		key := nameOutcome{s.Name, string(s.Outcome)}
		m.requests[key] += uint64(s.Count())
		h := m.latency[key]
		if h == nil {
			h = newHistogram()
			m.latency[key] = h
		}
		h.add(s.Latency)
		for code, n := range s.Status {
			m.responses[nameLabel{s.Name, strconv.Itoa(code)}] += uint64(n)
		}
		for class, n := range s.Errors {
			m.errors[nameLabel{s.Name, string(class)}] += uint64(n)
		}
	}
	m.sendLag.add(iv.SendLag)
	m.scheduled += uint64(iv.Scheduled)
	m.dropped += uint64(iv.Dropped)
	if phase != "" && (len(m.phases) == 0 || m.phases[len(m.phases)-1] != phase) && !contains(m.phases, phase) {
		m.phases = append(m.phases, phase)
	}
	m.phase = phase
	for k := range m.faults {
		m.faults[k] = 0 // a fault once seen stays a series, at 0 when reverted
	}
	for _, f := range faults {
		m.faults[f]++
	}
	m.cpu = processCPU() - m.cpuStart
	m.lastEnd = iv.End
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var (
	requestsDesc  = prometheus.NewDesc(RequestsName, "Requests completed (a response or a transport error), by request name and outcome (ok: a status below 400).", []string{"request", "outcome"}, nil)
	responsesDesc = prometheus.NewDesc(ResponsesName, "HTTP responses by request name and status code.", []string{"request", "code"}, nil)
	errorsDesc    = prometheus.NewDesc(ErrorsName, "Requests that got no HTTP response, by request name and error class (timeout, refused, reset, tls, other).", []string{"request", "class"}, nil)
	scheduledDesc = prometheus.NewDesc(ScheduledName, "Requests due by the schedule (open model) or started (closed model).", nil, nil)
	droppedDesc   = prometheus.NewDesc(DroppedName, "Requests due but not sent because --max-in-flight were already waiting or in flight.", nil, nil)
	latencyDesc   = prometheus.NewDesc(LatencyName, "Request latency in seconds, from the intended start in the open model (no coordinated omission), by request name and outcome.", []string{"request", "outcome"}, nil)
	sendLagDesc   = prometheus.NewDesc(SendLagName, "How late requests were sent after their intended start, in seconds (open model).", nil, nil)
	phaseDesc     = prometheus.NewDesc(PhaseName, "1 for the phase the load is in, 0 for the phases before it (faultline run).", []string{"phase"}, nil)
	faultDesc     = prometheus.NewDesc(FaultName, "Faults of this kind active now (faultline run).", []string{"fault"}, nil)
	cpuDesc       = prometheus.NewDesc(CPUName, "CPU time (user and system) faultline used since the load began.", nil, nil)
	coresDesc     = prometheus.NewDesc(CoresName, "Cores faultline may use (GOMAXPROCS): rate(cpu) / cores near 1 means the generator is saturated.", nil, nil)
	intervalDesc  = prometheus.NewDesc(IntervalName, "End of the last interval these figures include, in Unix seconds.", nil, nil)
)

// Describe sends every descriptor.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{requestsDesc, responsesDesc, errorsDesc, scheduledDesc, droppedDesc,
		latencyDesc, sendLagDesc, phaseDesc, faultDesc, cpuDesc, coresDesc, intervalDesc} {
		ch <- d
	}
}

// Collect sends the figures as they stand.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range sortedKeys(m.requests, lessNameOutcome) {
		ch <- prometheus.MustNewConstMetric(requestsDesc, prometheus.CounterValue, float64(m.requests[k]), k.name, k.outcome)
	}
	for _, k := range sortedKeys(m.responses, lessNameLabel) {
		ch <- prometheus.MustNewConstMetric(responsesDesc, prometheus.CounterValue, float64(m.responses[k]), k.name, k.label)
	}
	for _, k := range sortedKeys(m.errors, lessNameLabel) {
		ch <- prometheus.MustNewConstMetric(errorsDesc, prometheus.CounterValue, float64(m.errors[k]), k.name, k.label)
	}
	for _, k := range sortedKeys(m.latency, lessNameOutcome) {
		ch <- snapshot(latencyDesc, m.latency[k], k.name, k.outcome)
	}
	ch <- snapshot(sendLagDesc, m.sendLag)
	ch <- prometheus.MustNewConstMetric(scheduledDesc, prometheus.CounterValue, float64(m.scheduled))
	ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(m.dropped))
	for _, p := range m.phases {
		v := 0.0
		if p == m.phase {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(phaseDesc, prometheus.GaugeValue, v, p)
	}
	for _, f := range sortedKeys(m.faults, func(a, b string) bool { return a < b }) {
		ch <- prometheus.MustNewConstMetric(faultDesc, prometheus.GaugeValue, float64(m.faults[f]), f)
	}
	ch <- prometheus.MustNewConstMetric(cpuDesc, prometheus.CounterValue, m.cpu.Seconds())
	ch <- prometheus.MustNewConstMetric(coresDesc, prometheus.GaugeValue, float64(runtime.GOMAXPROCS(0)))
	if !m.lastEnd.IsZero() {
		ch <- prometheus.MustNewConstMetric(intervalDesc, prometheus.GaugeValue, float64(m.lastEnd.UnixMilli())/1e3)
	}
}

func lessNameOutcome(a, b nameOutcome) bool {
	return a.name < b.name || (a.name == b.name && a.outcome < b.outcome)
}

func lessNameLabel(a, b nameLabel) bool {
	return a.name < b.name || (a.name == b.name && a.label < b.label)
}

func sortedKeys[K comparable, V any](m map[K]V, less func(a, b K) bool) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return less(keys[i], keys[j]) })
	return keys
}

// histMetric is one histogram as it stood when collected: classic and
// native buckets in one metric, which client_golang's const histograms do
// not offer together.
type histMetric struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	h      dto.Metric
}

func snapshot(desc *prometheus.Desc, h *histogram, labelValues ...string) prometheus.Metric {
	m := &histMetric{desc: desc}
	h.write(&m.h)
	// The label names come from the descriptor; MakeLabelPairs pairs them.
	m.labels = prometheus.MakeLabelPairs(desc, labelValues)
	return m
}

func (m *histMetric) Desc() *prometheus.Desc { return m.desc }

func (m *histMetric) Write(out *dto.Metric) error {
	out.Label = m.labels
	out.Histogram = m.h.Histogram
	return nil
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var _ prometheus.Collector = (*Metrics)(nil)
