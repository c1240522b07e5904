package estimate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/faultline-dev/faultline/internal/suggest"
)

// Plan holds the inputs of a back-of-envelope capacity estimate, each
// converted to a base unit: bytes, seconds, fractions. A field that was not
// given is absent (Has reports it) and the outputs that need it are skipped.
type Plan struct {
	Name        string
	Description string

	DailyActiveUsers float64 // users
	RequestsPerUser  Rate    // requests per user, normally per day
	ReadShare        float64 // fraction of requests that are reads
	PeakFactor       float64 // peak rate / average rate
	RequestSize      float64 // bytes per request (ingress)
	ResponseSize     float64 // bytes per response (egress)
	NewRecords       Rate    // records created, normally per day
	RecordSize       float64 // bytes per record
	Retention        time.Duration
	Replication      int     // copies of each record
	CacheShare       float64 // fraction of daily reads to keep in cache
	CacheItemSize    float64 // bytes per cached item

	InstanceCapacity     Rate   // requests one instance serves
	InstanceCapacityFrom string // a fit or sweep JSON the capacity comes from
	CapacityBasis        string // how InstanceCapacity was obtained, when from a file

	TargetUtilisation float64 // fraction of capacity to plan for
	Headroom          float64 // 1 - TargetUtilisation, when given that way
	Redundancy        int     // k in N+k
	Latency           time.Duration

	text   map[string]string // field -> value as written
	origin map[string]string // field -> "file:line:col" or "--flag"
}

// planYAML is the plan file's schema. Its yaml tags are the one list of
// field names: the decoder, the flags and the documentation all read it.
type planYAML struct {
	Name                 yaml.Node `yaml:"name"`
	Description          yaml.Node `yaml:"description"`
	DailyActiveUsers     yaml.Node `yaml:"daily_active_users"`
	RequestsPerUser      yaml.Node `yaml:"requests_per_user"`
	ReadWriteRatio       yaml.Node `yaml:"read_write_ratio"`
	PeakFactor           yaml.Node `yaml:"peak_factor"`
	RequestSize          yaml.Node `yaml:"request_size"`
	ResponseSize         yaml.Node `yaml:"response_size"`
	NewRecords           yaml.Node `yaml:"new_records"`
	RecordSize           yaml.Node `yaml:"record_size"`
	Retention            yaml.Node `yaml:"retention"`
	Replication          yaml.Node `yaml:"replication"`
	CacheShare           yaml.Node `yaml:"cache_share"`
	CacheItemSize        yaml.Node `yaml:"cache_item_size"`
	InstanceCapacity     yaml.Node `yaml:"instance_capacity"`
	InstanceCapacityFrom yaml.Node `yaml:"instance_capacity_from"`
	TargetUtilisation    yaml.Node `yaml:"target_utilisation"`
	Headroom             yaml.Node `yaml:"headroom"`
	Redundancy           yaml.Node `yaml:"redundancy"`
	Latency              yaml.Node `yaml:"latency"`
}

// Field describes one plan input, for flags and documentation.
type Field struct {
	Name  string // YAML key, e.g. "record_size"
	Flag  string // flag name, e.g. "record-size"
	Kind  string // the kind of value: count, rate, size, duration, percent, ...
	Usage string // one line, with an example value
	set   func(p *Plan, s string) error
}

var fields = []Field{
	{Name: "name", Kind: "text", Usage: "a title for the estimate", set: func(p *Plan, s string) error {
		p.Name = s
		return nil
	}},
	{Name: "description", Kind: "text", Usage: "a sentence on what is being sized", set: func(p *Plan, s string) error {
		p.Description = s
		return nil
	}},
	{Name: "daily_active_users", Kind: "count", Usage: "users a day, a count (10M)", set: func(p *Plan, s string) (err error) {
		p.DailyActiveUsers, err = ParseCount(s)
		return err
	}},
	{Name: "requests_per_user", Kind: "rate", Usage: "requests each user makes, a rate (20/day)", set: func(p *Plan, s string) (err error) {
		p.RequestsPerUser, err = ParseRate(s)
		return err
	}},
	{Name: "read_write_ratio", Kind: "ratio", Usage: "reads:writes (9:1) or the read share (90%)", set: func(p *Plan, s string) (err error) {
		p.ReadShare, err = ParseReadShare(s)
		return err
	}},
	{Name: "peak_factor", Kind: "factor", Usage: "peak rate over average rate (3x)", set: func(p *Plan, s string) (err error) {
		p.PeakFactor, err = ParseFactor(s)
		if err == nil && p.PeakFactor < 1 {
			err = fmt.Errorf("%q: a peak factor is at least 1x (the peak is never below the average)", s)
		}
		return err
	}},
	{Name: "request_size", Kind: "size", Usage: "bytes per request, a size (1KB = 1000 B, 1KiB = 1024 B)", set: func(p *Plan, s string) (err error) {
		p.RequestSize, err = ParseSize(s)
		return err
	}},
	{Name: "response_size", Kind: "size", Usage: "bytes per response, a size (10KB)", set: func(p *Plan, s string) (err error) {
		p.ResponseSize, err = ParseSize(s)
		return err
	}},
	{Name: "new_records", Kind: "rate", Usage: "records created, a rate (1M/day)", set: func(p *Plan, s string) (err error) {
		p.NewRecords, err = ParseRate(s)
		return err
	}},
	{Name: "record_size", Kind: "size", Usage: "bytes per stored record, a size (1KB)", set: func(p *Plan, s string) (err error) {
		p.RecordSize, err = ParseSize(s)
		return err
	}},
	{Name: "retention", Kind: "duration", Usage: "how long records are kept, a duration (5y, 90d)", set: func(p *Plan, s string) (err error) {
		p.Retention, err = ParseDuration(s)
		if err == nil && p.Retention == 0 {
			err = fmt.Errorf("%q: retention must be longer than zero", s)
		}
		return err
	}},
	{Name: "replication", Kind: "copies", Usage: "copies of each record (3)", set: func(p *Plan, s string) (err error) {
		p.Replication, err = ParseReplication(s)
		return err
	}},
	{Name: "cache_share", Kind: "percent", Usage: "share of daily reads to cache, a percentage (20%)", set: func(p *Plan, s string) (err error) {
		p.CacheShare, err = ParsePercent(s)
		return err
	}},
	{Name: "cache_item_size", Kind: "size", Usage: "bytes per cached item, a size (1KB); by default response_size, else record_size", set: func(p *Plan, s string) (err error) {
		p.CacheItemSize, err = ParseSize(s)
		return err
	}},
	{Name: "instance_capacity", Kind: "rate", Usage: "requests one instance serves, a rate (500/s)", set: func(p *Plan, s string) (err error) {
		p.InstanceCapacity, err = ParseRate(s)
		if err == nil && p.InstanceCapacity.Count == 0 {
			err = fmt.Errorf("%q: capacity must be above zero", s)
		}
		return err
	}},
	{Name: "instance_capacity_from", Kind: "file", Usage: "take the capacity from the JSON of 'estimate fit --json' or 'estimate sweep --json' (capacity.json)", set: func(p *Plan, s string) error {
		if strings.TrimSpace(s) == "" {
			return errors.New("want a file name")
		}
		p.InstanceCapacityFrom = s
		return nil
	}},
	{Name: "target_utilisation", Kind: "percent", Usage: "share of capacity to plan for, a percentage (70%)", set: func(p *Plan, s string) (err error) {
		p.TargetUtilisation, err = ParsePercent(s)
		if err == nil && p.TargetUtilisation == 0 {
			err = fmt.Errorf("%q: target utilisation must be above 0%%", s)
		}
		return err
	}},
	{Name: "headroom", Kind: "percent", Usage: "share of capacity kept free, a percentage (30%); the same as target_utilisation 70%", set: func(p *Plan, s string) (err error) {
		p.Headroom, err = ParsePercent(s)
		if err == nil && p.Headroom >= 1 {
			err = fmt.Errorf("%q: headroom must be below 100%%", s)
		}
		return err
	}},
	{Name: "redundancy", Kind: "N+k", Usage: "N+k spare instances (N+1)", set: func(p *Plan, s string) (err error) {
		p.Redundancy, err = ParseRedundancy(s)
		return err
	}},
	{Name: "latency", Kind: "duration", Usage: "mean time in the system per request, for Little's law (50ms)", set: func(p *Plan, s string) (err error) {
		p.Latency, err = ParseDuration(s)
		return err
	}},
}

// Fields lists the plan inputs in the order of the plan file.
func Fields() []Field {
	out := make([]Field, len(fields))
	for i, f := range fields {
		f.Flag = strings.ReplaceAll(f.Name, "_", "-")
		out[i] = f
	}
	return out
}

func fieldByName(name string) (Field, bool) {
	for _, f := range fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

func fieldNames() []string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
	}
	return names
}

// Has reports whether the input field was given.
func (p *Plan) Has(field string) bool {
	_, ok := p.text[field]
	return ok
}

// Text returns an input as it was written.
func (p *Plan) Text(field string) string { return p.text[field] }

// Set parses value into the input field. origin says where the value came
// from ("plan.yaml:3:5", "--record-size") so later problems can point at it.
func (p *Plan) Set(field, value, origin string) error {
	f, ok := fieldByName(field)
	if !ok {
		return fmt.Errorf("unknown field %q", field)
	}
	if err := f.set(p, value); err != nil {
		return err
	}
	if p.text == nil {
		p.text = map[string]string{}
		p.origin = map[string]string{}
	}
	p.text[field] = value
	p.origin[field] = origin
	return nil
}

// Problem is one thing wrong with a plan, located at its origin.
type Problem struct {
	Origin string // "plan.yaml:3:5" or "--record-size"
	Field  string
	Msg    string

	line, col int // for reporting in file order
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Origin != "" {
		b.WriteString(p.Origin)
		b.WriteString(": ")
	}
	if p.Field != "" && !strings.HasPrefix(p.Origin, "--") {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found in a plan, reported at once.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// DecodePlan decodes a plan file strictly: an unknown field, a value without
// its unit or out of range is an error, and every such problem is reported
// at once as name:line:col. Cross-field checks and the capacity file are
// left to Validate, so that flags may still override fields.
func DecodePlan(name string, data []byte) (*Plan, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := err.Error()
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			return nil, Problems{{Origin: name + ":" + m[1], Msg: strings.TrimPrefix(msg, m[0])}}
		}
		return nil, Problems{{Origin: name, Msg: msg}}
	}
	if len(doc.Content) == 0 {
		return nil, Problems{{Origin: name, Msg: "empty plan: want a mapping of inputs such as daily_active_users: 10M"}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, Problems{{Origin: pos(name, root), Msg: "want a mapping of inputs such as daily_active_users: 10M"}}
	}

	// Walk the mapping in file order: every unknown or repeated field is
	// reported with its column and a suggestion, which the decoder's own
	// check cannot do, and every value is parsed, so that all problems are
	// reported at once.
	var problems Problems
	add := func(n *yaml.Node, field, msg string) {
		problems = append(problems, Problem{Origin: pos(name, n), Field: field, Msg: msg, line: n.Line, col: n.Column})
	}
	p := &Plan{}
	seen := map[string]*yaml.Node{}
	badKeys := false
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, value := root.Content[i], root.Content[i+1]
		if first, dup := seen[key.Value]; dup {
			add(key, key.Value, fmt.Sprintf("repeated field (first given at line %d)", first.Line))
			badKeys = true
			continue
		}
		seen[key.Value] = key
		if _, ok := fieldByName(key.Value); !ok {
			badKeys = true
			msg := fmt.Sprintf("unknown field %q", key.Value)
			if s := suggest.Closest(key.Value, fieldNames()); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			add(key, "", msg)
			continue
		}
		if value.Kind != yaml.ScalarNode || value.Tag == "!!null" {
			add(value, key.Value, "want a single value such as "+example(key.Value))
			continue
		}
		if err := p.Set(key.Value, value.Value, pos(name, value)); err != nil {
			add(value, key.Value, err.Error())
		}
	}
	// The schema decoder with KnownFields is the second, independent guard
	// that the file holds nothing the plan does not know.
	if !badKeys {
		var raw planYAML
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&raw); err != nil {
			problems = append(problems, Problem{Origin: name, Msg: err.Error()})
		}
	}
	if len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool {
			a, b := problems[i], problems[j]
			return a.line < b.line || a.line == b.line && a.col < b.col
		})
		return nil, problems
	}
	return p, nil
}

func pos(name string, n *yaml.Node) string {
	return fmt.Sprintf("%s:%d:%d", name, n.Line, n.Column)
}

// example pulls the example value out of a field's usage line.
func example(field string) string {
	f, _ := fieldByName(field)
	if i := strings.LastIndexByte(f.Usage, '('); i >= 0 {
		if j := strings.IndexAny(f.Usage[i:], " ,)"); j > 0 {
			return f.Usage[i+1 : i+j]
		}
	}
	return "a value"
}

// Validate checks the fields against each other and reads the capacity file
// if the plan names one; baseDir is where a relative file name is resolved
// (the plan's folder, or "" for the working directory).
func (p *Plan) Validate(baseDir string) error {
	var problems Problems
	at := func(field, format string, args ...any) {
		problems = append(problems, Problem{Origin: p.origin[field], Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if p.Has("target_utilisation") && p.Has("headroom") {
		at("headroom", "give target_utilisation or headroom, not both (headroom = 100%% - target utilisation)")
	}
	if p.Has("instance_capacity") && p.Has("instance_capacity_from") {
		at("instance_capacity_from", "give instance_capacity or instance_capacity_from, not both")
	}
	if p.Has("instance_capacity_from") && !p.Has("instance_capacity") {
		file := p.InstanceCapacityFrom
		if !filepath.IsAbs(file) && baseDir != "" {
			file = filepath.Join(baseDir, file)
		}
		perSecond, basis, err := CapacityFromFile(file)
		if err != nil {
			at("instance_capacity_from", "%v", err)
		} else {
			p.InstanceCapacity = Rate{Count: perSecond, Period: time.Second}
			p.CapacityBasis = basis
		}
	}
	if !p.hasTraffic() && !p.hasStorage() {
		problems = append(problems, Problem{Msg: "nothing to estimate: give daily_active_users and requests_per_user, or new_records and record_size"})
	}
	if len(problems) > 0 {
		return problems
	}
	return nil
}

func (p *Plan) hasTraffic() bool { return p.Has("daily_active_users") && p.Has("requests_per_user") }
func (p *Plan) hasStorage() bool { return p.Has("new_records") && p.Has("record_size") }

// LoadPlan reads, decodes and validates the plan file at path.
func LoadPlan(path string) (*Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	p, err := DecodePlan(path, data)
	if err != nil {
		return nil, err
	}
	if err := p.Validate(filepath.Dir(path)); err != nil {
		return nil, err
	}
	return p, nil
}

// capacityJSON is the part of the fit and sweep JSON a plan reads.
type capacityJSON struct {
	Capacity *CapacityEstimate `json:"capacity"`
}

// CapacityFromFile reads the per-instance capacity out of the JSON that
// 'faultline estimate fit --json' or 'faultline estimate sweep --json' wrote.
func CapacityFromFile(path string) (perSecond float64, basis string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, "", fmt.Errorf("read capacity: %w", err)
	}
	var c capacityJSON
	if err := json.Unmarshal(data, &c); err != nil {
		return 0, "", fmt.Errorf("read capacity: %s: %w", path, err)
	}
	if c.Capacity == nil || !(c.Capacity.PerInstance > 0) {
		return 0, "", fmt.Errorf("read capacity: %s has no per-instance capacity (want the JSON of 'faultline estimate fit' or 'sweep')", path)
	}
	return c.Capacity.PerInstance, fmt.Sprintf("%s from %s", c.Capacity.Basis, filepath.Base(path)), nil
}
