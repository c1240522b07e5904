package chaos

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/faultline-dev/faultline/internal/exitcode"
	"github.com/faultline-dev/faultline/internal/suggest"
)

// This file is the registry of fault kinds. A kind is one file that
// declares its config struct (the Fault itself) and registers it in init;
// docs/extending.md says how to add one.

// kind is a registered fault kind.
type kind struct {
	name    string
	group   string // GroupToxiproxy, GroupContainer, GroupProcess, GroupService, GroupPod or GroupKubeService
	summary string // one line for help and docs
	// hidden kinds are not faults a user asks for (the runner's proxies):
	// Kinds omits them and NewFault rejects them, but the ledger decodes
	// them.
	hidden bool
	// inProcess kinds keep part of the fault in the process that injects
	// it (the HTTP faults' proxy): that process must hold the fault, and
	// it ends when the process does.
	inProcess bool
	// newFault returns a fault of the kind with every field zero, to decode
	// YAML into or bind flags to.
	newFault func() Fault
	// newInjection returns an empty Injection of the kind for the ledger to
	// decode into.
	newInjection func() Injection
}

// The groups of fault kinds: what a kind acts on.
const (
	GroupToxiproxy = "toxiproxy" // a Toxiproxy proxy
	GroupContainer = "container" // containers, through the Docker Engine
	GroupProcess   = "process"   // a process of this machine
	GroupService   = "service"   // a service running inside faultline
	GroupPod       = "pod"       // pods and workloads, through the Kubernetes API
	// GroupKubeService: the traffic of a Kubernetes Service, through a
	// Toxiproxy pod the Service is moved to (service_<toxic>).
	GroupKubeService = "kubernetes-service"
)

var kinds = map[string]*kind{}

// registerKind adds a fault kind; a duplicate name panics at start-up, as
// does a config struct whose fields cannot be derived (see Fields).
func registerKind(k kind) {
	if _, dup := kinds[k.name]; dup {
		panic("chaos: fault kind registered twice: " + k.name)
	}
	if _, err := fieldsOf(reflect.TypeOf(k.newFault())); err != nil {
		panic(fmt.Sprintf("chaos: fault kind %s: %v", k.name, err))
	}
	kinds[k.name] = &k
}

// Kinds returns the names of every registered fault kind, sorted.
func Kinds() []string {
	names := make([]string, 0, len(kinds))
	for name, k := range kinds {
		if !k.hidden {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// KindInfo describes a registered fault kind for help and documentation.
type KindInfo struct {
	Name    string
	Group   string
	Summary string
	// InProcess says the fault lives in the process that injects it: a
	// command must hold it (--for, or until Ctrl-C), it cannot outlive it.
	InProcess bool
	// Fields are the kind's fields, in the order its struct declares them.
	Fields []Field
}

// DescribeKind returns the description of a registered kind.
func DescribeKind(name string) (KindInfo, bool) {
	k, ok := kinds[name]
	if !ok || k.hidden {
		return KindInfo{}, false
	}
	fields, _ := fieldsOf(reflect.TypeOf(k.newFault()))
	return KindInfo{Name: k.name, Group: k.group, Summary: k.summary, InProcess: k.inProcess, Fields: fields}, true
}

// NewFault returns a fault of the named kind with every field zero: decode
// its YAML into it (strictly: the struct's yaml tags are the kind's only
// fields) or set its fields from flags, then Check it. An unknown kind is a
// usage error that lists the valid ones.
func NewFault(kindName string) (Fault, error) {
	k, ok := kinds[kindName]
	if !ok || k.hidden {
		return nil, exitcode.Wrap(unknownKindError(kindName), exitcode.Usage)
	}
	return k.newFault(), nil
}

// Check validates f and returns every problem at once, each prefixed with
// the kind, as a usage error (exit code 2); nil when f is valid.
func Check(f Fault) error {
	var errs []error
	for _, err := range f.Validate() {
		errs = append(errs, fmt.Errorf("%s: %w", f.Kind(), err))
	}
	if len(errs) == 0 {
		return nil
	}
	return exitcode.Wrap(errors.Join(errs...), exitcode.Usage)
}

// Copy returns a deep copy of f, so that resolving references in the copy
// (${run.id} and the like) leaves f as it was.
func Copy(f Fault) (Fault, error) {
	k, ok := kinds[f.Kind()]
	if !ok {
		return nil, unknownKindError(f.Kind())
	}
	raw, err := yaml.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("copy %s fault: %w", f.Kind(), err)
	}
	c := k.newFault()
	if err := yaml.Unmarshal(raw, c); err != nil {
		return nil, fmt.Errorf("copy %s fault: %w", f.Kind(), err)
	}
	return c, nil
}

// FieldError is a problem with one field of a fault's config.
type FieldError struct {
	// Field is the field's YAML name, such as "jitter".
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// fieldErrorf returns a FieldError on field; the message names the field
// itself, as it reads on its own on the command line too.
func fieldErrorf(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// unknownKindError names the valid kinds, and the closest one when the
// name looks like a typo.
func unknownKindError(name string) error {
	valid := Kinds()
	msg := fmt.Sprintf("unknown fault kind %q", name)
	if name == "" {
		msg = "fault kind is missing"
	}
	if best := suggest.Closest(name, valid); best != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", best)
	}
	return fmt.Errorf("%s: valid kinds are %s", msg, strings.Join(valid, ", "))
}
