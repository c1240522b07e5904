package experiments

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/internal/suggest"
	"github.com/faultline-dev/faultline/loadgen"
	"github.com/faultline-dev/faultline/report"
	"github.com/faultline-dev/faultline/targets"
)

// Plan is a validated experiment, ready to run: one timeline of phases and
// faults, with every expression parsed.
type Plan struct {
	File        string
	Exp         *Experiment
	Model       loadgen.Model
	Phases      []*Phase
	Faults      []*PlannedFault // in order of injection
	Total       time.Duration
	Baseline    string
	Abort       []*Condition
	SteadyState []*Probe
	Thresholds  []*loadgen.Threshold
	Rollbacks   []ActionSpec
	TimeScale   float64
	dir         string
	// pos is where each path of the file is, for problems found once the
	// run has started (see preflight).
	pos map[string]Pos
}

// Phase is one phase on the timeline.
type Phase struct {
	Name        string
	Start, End  time.Duration // offsets from the start of the load
	Rate        float64       // open model: arrival rate during the phase
	Concurrency int           // closed model: users during the phase
	Hypotheses  []*Condition
}

// PlannedFault is a fault on the timeline.
type PlannedFault struct {
	Phase      string
	Index      int // within the phase's faults
	Kind       string
	Fault      chaos.Fault
	Start, End time.Duration // offsets from the start of the load
	path       string        // in the file: "phases[1].faults[0]"
}

// Label names the fault in reports: "fault[0] latency".
func (f *PlannedFault) Label() string {
	return fmt.Sprintf("%s.faults[%d] %s", f.Phase, f.Index, f.Kind)
}

// SteadyStateAt is when the steady state is checked before anything
// changes: at the first fault, or, with no faults, where the second phase
// begins (its load may differ). A single phase without faults has no
// "before": its steady state is checked after it only.
func (p *Plan) SteadyStateAt() (time.Duration, bool) {
	switch {
	case len(p.Faults) > 0:
		return p.Faults[0].Start, true
	case len(p.Phases) > 1:
		return p.Phases[1].Start, true
	default:
		return 0, false
	}
}

// Probe is a steady-state probe, parsed.
type Probe struct {
	Spec   ProbeSpec
	Expect *Condition // nil for HTTP and command probes
}

// Options adjust how a file is loaded.
type Options struct {
	// TimeScale multiplies every phase and fault time and every window
	// ("over 5s") and recovery time limit: 0.1 runs an experiment ten times
	// faster, for tests and trial runs. 0 means 1.
	TimeScale float64
}

// reservedPhaseNames cannot name a phase: they prefix metrics.
var reservedPhaseNames = []string{"service", "lag"}

// MaxFileSize bounds an experiment file. The largest example is a few
// kilobytes; the bound keeps a mistaken argument (a log, a device) from
// being read and parsed for minutes.
const MaxFileSize = 4 << 20

// The time scales an experiment may run at: from a thousand times faster
// (a minute in 60 ms) to a thousand times slower.
const (
	MinTimeScale = 1e-3
	MaxTimeScale = 1e3
)

// CheckTimeScale reports a time scale outside MinTimeScale..MaxTimeScale
// (NaN and infinities included).
func CheckTimeScale(scale float64) error {
	if !(scale >= MinTimeScale && scale <= MaxTimeScale) {
		return fmt.Errorf("time scale %g: want a number from %g to %g", scale, MinTimeScale, MaxTimeScale)
	}
	return nil
}

// Open reads, decodes and validates an experiment file. Every problem is
// reported at once as file:line:col: message (a Problems error), with exit
// code 2. It stops early, returning ctx's error, when ctx is done.
func Open(ctx context.Context, path string, opts Options) (*Plan, error) {
	raw, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return parse(ctx, raw, path, opts)
}

// readFile reads at most MaxFileSize bytes of path.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, exitcode.Wrap(fmt.Errorf("read experiment: %w", err), exitcode.Usage)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, exitcode.Wrap(fmt.Errorf("read experiment: %w", err), exitcode.Usage)
	}
	if len(raw) > MaxFileSize {
		return nil, exitcode.Wrap(Problems{{File: path, Msg: fmt.Sprintf("the file is over %d MiB: not an experiment", MaxFileSize>>20)}}, exitcode.Usage)
	}
	return raw, nil
}

// Parse is Load for an experiment already in memory; file names it in
// problems and anchors relative paths.
func Parse(raw []byte, file string, opts Options) (*Plan, error) {
	return parse(context.Background(), raw, file, opts)
}

func parse(ctx context.Context, raw []byte, file string, opts Options) (*Plan, error) {
	if opts.TimeScale == 0 {
		opts.TimeScale = 1
	}
	if err := CheckTimeScale(opts.TimeScale); err != nil {
		return nil, exitcode.Wrap(err, exitcode.Usage)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	root, p := parseYAML(raw, file)
	if p != nil {
		return nil, exitcode.Wrap(Problems{*p}, exitcode.Usage)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	exp := &Experiment{Targets: TargetsSpec{Config: targets.Defaults()}}
	d := newDecoder(ctx, file)
	d.decode(root.Content[0], reflectValue(exp), "")
	v := &validator{decoder: d, exp: exp, plan: &Plan{File: file, Exp: exp, TimeScale: opts.TimeScale, dir: filepath.Dir(file)}}
	if !d.interrupted() {
		v.validate()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(d.problems) > 0 {
		return nil, exitcode.Wrap(d.result(), exitcode.Usage)
	}
	v.plan.pos = d.pos
	return v.plan, nil
}

// validator checks a decoded experiment and builds its plan.
type validator struct {
	*decoder
	exp  *Experiment
	plan *Plan
	// targets and proxies cache targetNames and proxyNames, asked for
	// once per reference.
	targets, proxies []string
}

// at returns the position of path, or of its nearest recorded parent
// (the top of the file at last).
func (v *validator) at(path string) Pos { return posOf(v.pos, path) }

// posOf returns the position of path in pos, or of its nearest recorded
// parent (the top of the file at last).
func posOf(pos map[string]Pos, path string) Pos {
	for p := path; ; p = parentPath(p) {
		if at, ok := pos[p]; ok {
			return at
		}
		if p == "" {
			return Pos{}
		}
	}
}

// parentPath is the path of what holds path: "a.b[2]" for "a.b[2].c".
func parentPath(path string) string {
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}

// problem reports a problem with the value at path, unless it follows
// from a value that could not be decoded: the value itself, one inside it
// (a check of the whole would see it missing) or one holding it.
func (v *validator) problem(path, format string, args ...any) {
	if v.undecoded(strings.TrimSuffix(path, "#key")) {
		return
	}
	v.addf(v.at(path), "%s: %s", displayPath(path), fmt.Sprintf(format, args...))
}

func (v *validator) undecoded(path string) bool {
	if v.failedWithin[path] {
		return true
	}
	for p := path; ; p = parentPath(p) {
		if v.failed[p] {
			return true
		}
		if p == "" {
			return false
		}
	}
}

// exprProblem reports a bad expression at its own column.
func (v *validator) exprProblem(path string, err error) {
	pos := v.at(path)
	var pe *parseError
	if errors.As(err, &pe) {
		pos.Column += pe.col - 1
	}
	v.addf(pos, "%s: %s", displayPath(path), err.Error())
}

func (v *validator) scale(d time.Duration) time.Duration {
	return time.Duration(float64(d) * v.plan.TimeScale)
}

func (v *validator) validate() {
	e := v.exp
	if strings.TrimSpace(e.Name) == "" {
		v.problem("name", "an experiment needs a name")
	}
	if e.Seed == 0 {
		e.Seed = 1
	}
	v.validateTargets()
	v.validateProxies()
	phases := v.validatePhases()
	// "baseline.X" names the baseline phase (marked baseline: true, else
	// the first), whatever its name.
	refPhases := phases
	if !contains(phases, "baseline") && v.plan.Baseline != "" {
		refPhases = append(append([]string{}, phases...), "baseline")
	}
	v.validateLoad()
	v.validateHypotheses(refPhases)
	for i, src := range e.Abort {
		if v.interrupted() {
			return
		}
		path := fmt.Sprintf("abort[%d]", i)
		c, err := parseCondition(src, refPhases)
		if err != nil {
			v.exprProblem(path, err)
			continue
		}
		if bad := v.refsNot(c, "value", "time_to_recover"); bad != "" {
			v.exprProblem(path, fmt.Errorf("%s cannot be watched by an abort condition", bad))
			continue
		}
		v.checkRequestNames(path, c)
		if c.Window == 0 {
			c.Window = 5 * time.Second
		}
		c.Window = v.scale(c.Window)
		c.pos = v.at(path)
		v.plan.Abort = append(v.plan.Abort, c)
	}
	v.validateProbes(refPhases)
	for i, a := range e.Rollbacks {
		path := fmt.Sprintf("rollbacks[%d]", i)
		switch {
		case a.HTTP != nil && len(a.Command) > 0:
			v.problem(path, "give http or command, not both")
		case a.HTTP != nil:
			v.checkHTTP(path+".http", a.HTTP)
		case len(a.Command) > 0:
		default:
			v.problem(path, "a rollback needs http or command")
		}
		v.checkRefs(path, a)
	}
	v.plan.Rollbacks = e.Rollbacks
	if e.Report.Dir != "" {
		if err := CheckReportDir(v.plan.resolvePath(e.Report.Dir)); err != nil {
			v.problem("report.dir", "%v", err)
		}
	}
	for i, f := range e.Report.Formats {
		if _, ok := report.LookupFormat(f); !ok {
			v.problem(fmt.Sprintf("report.formats[%d]", i), "%v", unknownName("format", f, report.FormatNames()))
		}
	}
}

// CheckReportDir reports a report directory that cannot be one: a path
// that exists and is not a directory (a missing one is created).
func CheckReportDir(dir string) error {
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return fmt.Errorf("%s is a file, not a folder for the journal and reports", dir)
	}
	return nil
}

func (v *validator) validateTargets() {
	t := &v.exp.Targets
	v.validateKubernetes()
	if t.Shop || t.kubeShop() {
		for i, name := range t.Only {
			if !contains(targets.Services(), strings.TrimSpace(name)) {
				v.problem(fmt.Sprintf("targets.only[%d]", i), "%v", unknownName("service", name, targets.Services()))
			}
		}
		if err := t.Config.Validate(); err != nil {
			var ce *targets.ConfigError
			if errors.As(err, &ce) {
				for _, fe := range ce.Problems {
					v.problem(fe.Path, "%s", fe.Message)
				}
			} else {
				v.problem("targets", "%v", err)
			}
		}
	} else if !v.undecoded("targets.shop") {
		if len(t.Only) > 0 {
			v.problem("targets.only", "only applies to the bundled shop: add shop: true (or kubernetes.shop: true)")
		}
		if t.Docker {
			v.problem("targets.docker", "docker runs the bundled shop in containers: add shop: true")
		}
	}
	if t.Image != "" && !t.Docker {
		v.problem("targets.image", "image applies to docker: true")
	}
	for name, raw := range t.External {
		path := "targets.external." + name
		if (t.Shop || t.kubeShop()) && contains(targets.Services(), name) {
			v.problem(path+"#key", "%q is a service of the bundled shop; pick another name", name)
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.problem(path, "want an http or https base URL, got %q", raw)
		}
	}
	if v.exp.Toxiproxy.URL != "" {
		u, err := url.Parse(v.exp.Toxiproxy.URL)
		if err != nil || u.Scheme != "http" || u.Host == "" {
			v.problem("toxiproxy.url", "want the http URL of a Toxiproxy server's API, got %q", v.exp.Toxiproxy.URL)
		}
	}
}

// targetsUndecoded reports whether what ${targets.NAME} may name is
// unknown, because a field that decides it could not be decoded.
func (v *validator) targetsUndecoded() bool {
	return v.undecoded("targets.shop") || v.undecoded("targets.only") || v.undecoded("targets.external") || v.undecoded("targets.kubernetes")
}

// phaseNamesUndecoded reports whether a phase's name is unknown, because
// the phases, a phase or its name could not be decoded.
func (v *validator) phaseNamesUndecoded() bool {
	if v.failed["phases"] {
		return true
	}
	for i := range v.exp.Phases {
		if v.undecoded(fmt.Sprintf("phases[%d].name", i)) {
			return true
		}
	}
	return false
}

// targetNames lists what ${targets.NAME} may name.
func (v *validator) targetNames() []string {
	if v.targets != nil {
		return v.targets
	}
	names := []string{}
	if k := v.exp.Targets.Kubernetes; k != nil {
		for name := range k.Services {
			names = append(names, name)
		}
	}
	if v.exp.Targets.Shop || v.exp.Targets.kubeShop() {
		only, err := targets.CheckServices(v.exp.Targets.Only)
		if err != nil {
			only = targets.Services() // reported at targets.only
		}
		names = append(names, only...)
	}
	for name := range v.exp.Targets.External {
		names = append(names, name)
	}
	sort.Strings(names)
	v.targets = names
	return names
}

func (v *validator) proxyNames() []string {
	if v.proxies != nil {
		return v.proxies
	}
	names := []string{}
	for _, p := range v.exp.Proxies {
		names = append(names, p.Name)
	}
	v.proxies = names
	return names
}

func (v *validator) validateProxies() {
	seen := map[string]bool{}
	links := map[string]bool{}
	for i, p := range v.exp.Proxies {
		path := fmt.Sprintf("proxies[%d]", i)
		switch {
		case p.Name == "":
			v.problem(path, "a proxy needs a name")
		case seen[p.Name]:
			v.problem(path+".name", "proxy %q is declared twice", p.Name)
		}
		seen[p.Name] = true
		if p.Link != "" {
			l, err := targets.ParseLink(p.Link)
			switch {
			case err != nil:
				v.problem(path+".link", "%v", err)
			case !v.exp.Targets.Shop && !v.undecoded("targets.shop"):
				v.problem(path+".link", "links belong to the bundled shop: add targets.shop: true")
			case v.exp.Targets.Docker:
				v.problem(path+".link", "in Docker mode the services reach each other on the Docker network, which a proxy cannot sit on: proxy a link of the in-process shop, or a published port")
			case links[l.String()]:
				v.problem(path+".link", "link %s is already routed through another proxy", l)
			}
			links[p.Link] = true
		}
		if p.Upstream == "" && p.Link == "" {
			v.problem(path, "a proxy needs an upstream (host:port, a URL or ${targets.NAME}) or a link")
		}
		v.checkRefs(path, p)
	}
}

// refPattern matches ${...} references.
var refPattern = regexp.MustCompile(`\$\{([^}]*)\}`)

// checkRefs checks every ${...} in the strings of x (a struct, found by
// walking its fields) and reports unknown ones at their field.
func (v *validator) checkRefs(path string, x any) {
	walkStrings(reflectValue(x), path, func(p, s string) {
		for _, m := range refPattern.FindAllStringSubmatch(s, -1) {
			if err := v.checkRef(m[1]); err != nil {
				v.problem(p, "${%s}: %v", m[1], err)
			}
		}
	})
}

func (v *validator) checkRef(ref string) error {
	parts := strings.Split(ref, ".")
	switch {
	case len(parts) == 2 && parts[0] == "env":
		return nil
	case ref == "run.id":
		return nil
	case ref == "kubernetes.namespace":
		if v.exp.Targets.Kubernetes == nil && !v.undecoded("targets.kubernetes") {
			return errors.New("names the namespace of targets.kubernetes, which the experiment does not have")
		}
		return nil
	case (len(parts) == 2 || len(parts) == 3 && parts[2] == "addr") && parts[0] == "targets":
		if !contains(v.targetNames(), parts[1]) && !v.targetsUndecoded() {
			return unknownName("target", parts[1], v.targetNames())
		}
		return nil
	case (len(parts) == 2 || len(parts) == 3 && parts[2] == "addr") && parts[0] == "proxies":
		if !contains(v.proxyNames(), parts[1]) {
			return unknownName("proxy", parts[1], v.proxyNames())
		}
		return nil
	}
	return errors.New("unresolvable: use ${targets.NAME}, ${targets.NAME.addr}, ${proxies.NAME}, ${proxies.NAME.addr}, ${env.VAR}, ${run.id} or ${kubernetes.namespace}")
}

func unknownName(what, name string, known []string) error {
	msg := fmt.Sprintf("unknown %s %q", what, name)
	if best := suggest.Closest(name, known); best != "" {
		return errors.New(msg + fmt.Sprintf(" (did you mean %q?)", best))
	}
	if len(known) == 0 {
		return errors.New(msg + fmt.Sprintf(": none is declared"))
	}
	return errors.New(msg + " (known: " + strings.Join(known, ", ") + ")")
}

// validateLoad checks the load: its model, limits, requests and
// thresholds.
func (v *validator) validateLoad() {
	l := &v.exp.Load
	v.validateModel(l)
	v.validateLoadLimits(l)
	v.validateRequests(l)
	if v.interrupted() {
		return
	}
	for i, src := range l.Thresholds {
		t, err := loadgen.ParseThreshold(src)
		if err != nil {
			v.problem(fmt.Sprintf("load.thresholds[%d]", i), "%v", err)
			continue
		}
		v.plan.Thresholds = append(v.plan.Thresholds, t)
	}
}

// validateModel decides the open or closed model from the load, gives each
// phase without its own rate or users the load's, and refuses phases that
// speak the other model.
func (v *validator) validateModel(l *LoadSpec) {
	switch {
	case l.Rate != "" && l.Concurrency != 0:
		v.problem("load", "give rate (open model) or concurrency (closed model), not both")
	case l.Rate != "":
		v.plan.Model = loadgen.Open
		r := v.rate("load.rate", l.Rate)
		for _, p := range v.plan.Phases {
			if p.Rate < 0 {
				p.Rate = r
			}
		}
	case l.Concurrency > 0:
		v.plan.Model = loadgen.Closed
		for _, p := range v.plan.Phases {
			if p.Concurrency < 0 {
				p.Concurrency = l.Concurrency
			}
		}
	case l.Concurrency < 0:
		v.problem("load.concurrency", "must be positive")
	default:
		v.problem("load", "the load needs a rate (open model, like 200/s) or a concurrency (closed model)")
	}
	for i, p := range v.exp.Phases {
		path := fmt.Sprintf("phases[%d]", i)
		if p.Rate != "" && v.plan.Model == loadgen.Closed {
			v.problem(path+".rate", "the load is closed-model (concurrency): set concurrency for the phase")
		}
		if p.Concurrency != 0 && v.plan.Model == loadgen.Open {
			v.problem(path+".concurrency", "the load is open-model (rate): set rate for the phase")
		}
	}
}

// validateLoadLimits refuses negative counts and durations.
func (v *validator) validateLoadLimits(l *LoadSpec) {
	for _, c := range []struct {
		name string
		v    int
	}{{"connections", l.Connections}, {"max_in_flight", l.MaxInFlight}} {
		if c.v < 0 {
			v.problem("load."+c.name, "must be positive")
		}
	}
	if l.Generators < 0 || l.Generators > MaxGenerators {
		v.problem("load.generators", "%d: want a number of generators from 1 to %d", l.Generators, MaxGenerators)
	}
	for _, c := range []struct {
		name string
		v    time.Duration
	}{{"think_time", l.ThinkTime}, {"timeout", l.Timeout}, {"connect_timeout", l.ConnectTimeout}} {
		if c.v < 0 {
			v.problem("load."+c.name, "must not be negative")
		}
	}
}

// validateRequests checks each request's URL, method, body and weight.
func (v *validator) validateRequests(l *LoadSpec) {
	if len(l.Requests) == 0 {
		v.problem("load.requests", "the load needs at least one request")
	}
	weights := 0
	for i, r := range l.Requests {
		if v.interrupted() {
			return
		}
		path := fmt.Sprintf("load.requests[%d]", i)
		if r.URL == "" {
			v.problem(path+".url", "a request needs a url")
		} else if !strings.Contains(r.URL, "${") {
			if _, err := loadgen.NewTarget(orDefault(r.Method, "GET"), r.URL); err != nil {
				v.problem(path+".url", "%v", err)
			}
		}
		if r.Method != "" {
			if _, err := loadgen.NewTarget(r.Method, "http://x/"); err != nil {
				v.problem(path+".method", "%v", err)
			}
		}
		v.checkRequest(path, r, &weights)
		v.checkRefs(path, r)
	}
}

// MinRate is the lowest arrival rate, per second, a load or a phase may
// ask for: one request an hour. Zero sends nothing, and rates far below
// this (1e-300/s) space requests further apart than a run can last.
const MinRate = 1.0 / 3600

// rate parses the rate at path and checks it is one the load generator
// schedules, from MinRate to loadgen.MaxRate.
func (v *validator) rate(path, s string) float64 {
	r, err := loadgen.ParseRate(s)
	switch {
	case err != nil:
		v.problem(path, "%v", err)
	case r == 0:
		v.problem(path, "rate %q: must be above zero", s)
	case r < MinRate:
		v.problem(path, "rate %q: must be at least 1/h", s)
	case r > loadgen.MaxRate:
		v.problem(path, "rate %q: above %s, the most one generator schedules", s, loadgen.FormatRate(loadgen.MaxRate))
	}
	return r
}

// maxWeightTotal bounds the sum of the requests' weights, which are
// relative shares: a million resolves one request in a million, and keeps
// the weighted round robin's arithmetic far from overflowing.
const maxWeightTotal = 1_000_000

// checkRequest checks a request's weight, adding it to *total, and its
// body.
func (v *validator) checkRequest(path string, r RequestSpec, total *int) {
	_, weightGiven := v.pos[path+".weight"]
	switch {
	case r.Weight < 0:
		v.problem(path+".weight", "must be positive")
	case r.Weight == 0 && weightGiven:
		v.problem(path+".weight", "must be at least 1: a request of weight 0 would never be sent (remove it instead)")
	case r.Weight > maxWeightTotal-*total:
		v.problem(path+".weight", "the weights add up to over %d; weights are relative shares: scale them down", maxWeightTotal)
		*total = maxWeightTotal
	default:
		*total += max(r.Weight, 1)
	}
	if r.Body != "" && r.BodyFile != "" {
		v.problem(path, "give body or body_file, not both")
	}
	if r.BodyFile != "" && !strings.Contains(r.BodyFile, "${") {
		fi, err := os.Stat(v.plan.resolvePath(r.BodyFile))
		switch {
		case err != nil:
			v.problem(path+".body_file", "%v", err)
		case fi.IsDir():
			v.problem(path+".body_file", "%s is a directory: want a file whose contents are the body", r.BodyFile)
		case !fi.Mode().IsRegular():
			v.problem(path+".body_file", "%s is not a regular file", r.BodyFile)
		}
	}
}

// resolvePath anchors a relative path at the experiment file's folder.
func (p *Plan) resolvePath(path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(p.dir, path)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// MaxTotal is the longest an experiment runs: a year, time scale
// included. It keeps every offset on the timeline far from overflowing.
const MaxTotal = 365 * 24 * time.Hour

// fmtDuration writes d in whole days when it is some, else as Go does.
func fmtDuration(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

// atTimeScale says which time scale applies, when it is not 1.
func (v *validator) atTimeScale() string {
	if v.plan.TimeScale == 1 {
		return ""
	}
	return fmt.Sprintf(" at time scale %g", v.plan.TimeScale)
}

// phasesBroken reports whether a phase could not be decoded or has no
// length, so that checks of the timeline would report only consequences.
func (v *validator) phasesBroken() bool {
	if v.failedWithin["phases"] || v.failed["phases"] {
		return true
	}
	for _, p := range v.exp.Phases {
		if p.Duration <= 0 {
			return true
		}
	}
	return false
}

func (v *validator) validatePhases() []string {
	var names []string
	declared := map[string]bool{}
	if len(v.exp.Phases) == 0 {
		v.problem("phases", "an experiment needs at least one phase")
	}
	var at time.Duration
	baselines := 0
	for i, ps := range v.exp.Phases {
		if v.interrupted() {
			return names
		}
		path := fmt.Sprintf("phases[%d]", i)
		switch {
		case ps.Name == "":
			v.problem(path, "a phase needs a name")
		case declared[ps.Name]:
			v.problem(path+".name", "phase %q is declared twice", ps.Name)
		case contains(reservedPhaseNames, ps.Name):
			v.problem(path+".name", "%q is reserved (it prefixes metrics); pick another name", ps.Name)
		case strings.ContainsAny(ps.Name, ". []"):
			v.problem(path+".name", "phase names cannot contain dots, spaces or brackets")
		}
		names = append(names, ps.Name)
		declared[ps.Name] = true
		if ps.Duration <= 0 {
			v.problem(path+".duration", "must be positive")
		}
		if ps.Baseline {
			baselines++
			if baselines == 2 {
				v.problem(path+".baseline", "only one phase can be the baseline (%s is already)", v.plan.Baseline)
			}
			v.plan.Baseline = ps.Name
		}
		length := v.scale(ps.Duration)
		if float64(ps.Duration)*v.plan.TimeScale > float64(MaxTotal-at) {
			if at < MaxTotal {
				v.problem(path+".duration", "the phases add up to over %s%s, the longest an experiment runs", fmtDuration(MaxTotal), v.atTimeScale())
			}
			length = max(MaxTotal-at, 0)
		}
		phase := &Phase{Name: ps.Name, Start: at, End: at + max(length, 0), Rate: -1, Concurrency: -1}
		if ps.Rate != "" {
			phase.Rate = v.rate(path+".rate", ps.Rate)
		}
		if ps.Concurrency != 0 {
			if ps.Concurrency < 0 {
				v.problem(path+".concurrency", "must be positive")
			}
			phase.Concurrency = ps.Concurrency
		}
		for j, fs := range ps.Faults {
			fpath := fmt.Sprintf("%s.faults[%d]", path, j)
			v.validateFault(fpath, ps, phase, j, fs)
		}
		v.plan.Phases = append(v.plan.Phases, phase)
		at = phase.End
	}
	v.plan.Total = at
	if baselines == 1 && declared["baseline"] && v.plan.Baseline != "baseline" {
		v.problem("phases", "phase %q is marked baseline but another phase is named baseline: baseline.X would be ambiguous", v.plan.Baseline)
	}
	if v.plan.Baseline == "" && len(names) > 0 {
		v.plan.Baseline = names[0]
	}
	sort.SliceStable(v.plan.Faults, func(i, j int) bool { return v.plan.Faults[i].Start < v.plan.Faults[j].Start })
	return names
}

// unjoin splits an errors.Join error into its parts.
func unjoin(err error) []error {
	var j interface{ Unwrap() []error }
	if errors.As(err, &j) {
		return j.Unwrap()
	}
	return []error{err}
}

func (v *validator) validateHypotheses(phases []string) {
	keys := make([]string, 0, len(v.exp.Hypothesis))
	for k := range v.exp.Hypothesis {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	byName := map[string]*Phase{}
	for _, p := range v.plan.Phases {
		byName[p.Name] = p
	}
	for _, name := range keys {
		if v.interrupted() {
			return
		}
		path := "hypothesis." + name
		phase := byName[name]
		if phase == nil && v.phaseNamesUndecoded() {
			continue // the phases are reported
		}
		if phase == nil {
			v.problem(path+"#key", "%v", unknownName("phase", name, phases))
			continue
		}
		for i, src := range v.exp.Hypothesis[name] {
			ipath := fmt.Sprintf("%s[%d]", path, i)
			c, err := parseCondition(src, phases)
			if err != nil {
				v.exprProblem(ipath, err)
				continue
			}
			if c.Window > 0 {
				v.exprProblem(ipath, errors.New("over applies to abort conditions; a hypothesis is judged over its whole phase"))
				continue
			}
			if bad := v.refsNot(c, "value"); bad != "" {
				v.exprProblem(ipath, errors.New("value is a probe's reading; use it in a Prometheus probe's expect"))
			}
			if v.refsNot(c, "time_to_recover") != "" {
				c.scaleDurations(v.plan.TimeScale)
			}
			v.checkRequestNames(ipath, c)
			c.pos = v.at(ipath)
			phase.Hypotheses = append(phase.Hypotheses, c)
		}
	}
}

// refsNot returns the first of the given metrics that c names, or "".
func (v *validator) refsNot(c *Condition, metrics ...string) string {
	for _, r := range c.Refs() {
		if contains(metrics, r.metric) {
			return r.metric
		}
	}
	return ""
}

// checkRequestNames reports a metric[NAME] whose NAME is not a request of
// the load. Requests without a name are named at run time from their
// resolved URL, so when there are any, names cannot be checked here.
func (v *validator) checkRequestNames(path string, c *Condition) {
	var names []string
	for _, r := range v.exp.Load.Requests {
		if r.Name == "" {
			return
		}
		names = append(names, r.Name)
	}
	for _, r := range c.Refs() {
		if r.request != "" && !contains(names, r.request) {
			v.exprProblem(path, unknownName("request", r.request, names))
			return
		}
	}
}

func (v *validator) validateProbes(phases []string) {
	for i, p := range v.exp.SteadyState.Probes {
		if v.interrupted() {
			return
		}
		path := fmt.Sprintf("steady_state.probes[%d]", i)
		probe := &Probe{Spec: p}
		if p.Expect != "" {
			c, err := parseCondition(p.Expect, phases)
			if err != nil {
				v.exprProblem(path+".expect", err)
				continue
			}
			if c.Window > 0 {
				v.exprProblem(path+".expect", errors.New("over applies to abort conditions; a probe judges the load so far"))
				continue
			}
			if c.Relative() {
				v.exprProblem(path+".expect", errors.New("a probe judges the load before the first fault (or the last phase): it cannot compare with a phase"))
				continue
			}
			if bad := v.refsNot(c, "time_to_recover"); bad != "" {
				v.exprProblem(path+".expect", errors.New("time_to_recover is judged after the run, in a hypothesis"))
				continue
			}
			v.checkRequestNames(path+".expect", c)
			usesValue := false
			for _, r := range c.Refs() {
				usesValue = usesValue || r.metric == "value"
			}
			v.checkProbeExpect(path, p, usesValue)
			c.pos = v.at(path + ".expect")
			probe.Expect = c
		} else {
			v.checkProbeExpect(path, p, false)
		}
		if p.Check != nil {
			v.checkRefs(path, p)
			v.checkRefs(join(path, p.Kind), p.Check)
			p.Check.validate(v, join(path, p.Kind))
		} else {
			v.checkRefs(path, p)
		}
		_, reads := p.Check.(readingCheck)
		if at, ok := v.plan.SteadyStateAt(); ok && at == 0 && p.Expect != "" && !reads && !v.phasesBroken() {
			v.problem(path+".expect", "the steady state is checked before the first fault, at 0s, when no load has run: start the faults after a baseline phase")
		}
		v.plan.SteadyState = append(v.plan.SteadyState, probe)
	}
}
