package chaos

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/chaos/docker"
)

// This file holds what the container faults (kill, stop, restart, pause)
// share: selecting containers, and the injection that acts on them through
// the Docker Engine and brings them back on revert.

// containerTarget selects running containers: every container kind has
// these fields.
type containerTarget struct {
	Names     []string          `yaml:"names,omitempty" flag:"name" doc:"container names (or IDs) to match exactly; an entry re2:EXPR is an RE2 regular expression matched against names (at most one); names or labels is required"`
	Labels    map[string]string `yaml:"labels,omitempty" flag:"label" doc:"containers carrying every one of these labels, KEY: VALUE (an empty VALUE: any value)"`
	Selection `yaml:",inline"`
	Seed      *uint64 `yaml:"seed,omitempty" doc:"this fault's seed for picking among the matching containers, overriding the run's"`
}

// selector turns the names (with at most one "re2:" regex) and labels into
// the engine's selector.
func (t containerTarget) selector() (docker.Selector, error) {
	sel := docker.Selector{Labels: t.Labels}
	for _, n := range t.Names {
		if expr, ok := strings.CutPrefix(n, "re2:"); ok {
			if sel.NameRegex != "" {
				return sel, errors.New("names: at most one re2: regular expression")
			}
			if _, err := regexp.Compile(expr); err != nil {
				return sel, fmt.Errorf("names: %w", err)
			}
			sel.NameRegex = expr
			continue
		}
		if n == "" {
			return sel, errors.New("names: empty name")
		}
		sel.Names = append(sel.Names, n)
	}
	return sel, nil
}

func (t containerTarget) validate() []error {
	var errs []error
	sel, err := t.selector()
	if err != nil {
		errs = append(errs, &FieldError{Field: "names", Err: err})
	} else if sel.IsEmpty() {
		errs = append(errs, errors.New("select containers with names (exact, or one re2:EXPR) or labels"))
	}
	return append(errs, t.Selection.Validate()...)
}

// describe says which containers the target picks.
func (t containerTarget) describe() string {
	sel, _ := t.selector()
	return fmt.Sprintf("%s of the running containers with %s", t.Selection, describeSelector(sel))
}

// seed returns the target's own seed if it has one, else the run's.
func (t containerTarget) seed(env *Env) uint64 {
	if t.Seed != nil {
		return *t.Seed
	}
	return env.Seed
}

// pick finds the running containers the target selects, touching nothing,
// and says how they were picked.
func (t containerTarget) pick(ctx context.Context, env *Env) (*docker.Engine, []containerRef, string, error) {
	sel, err := t.selector()
	if err != nil {
		return nil, nil, "", err
	}
	eng, err := env.docker(ctx)
	if err != nil {
		return nil, nil, "", err
	}
	matches, err := eng.List(ctx, sel)
	if err != nil {
		return nil, nil, "", fmt.Errorf("docker engine at %s: %w", eng.Host(), err)
	}
	var running []docker.ContainerInfo
	var others []string
	for _, c := range matches {
		if c.State == "running" {
			running = append(running, c)
		} else {
			others = append(others, fmt.Sprintf("%s (%s)", c.Name, c.State))
		}
	}
	if len(running) == 0 {
		msg := fmt.Sprintf("no running container matches %s on the docker engine at %s", describeSelector(sel), eng.Host())
		if len(others) > 0 {
			msg += "; not running: " + strings.Join(others, ", ")
		}
		return nil, nil, "", errors.New(msg)
	}
	seed := t.seed(env)
	victims, err := Pick(running, func(c docker.ContainerInfo) string { return c.Name }, t.Selection, seed)
	if err != nil {
		return nil, nil, "", fmt.Errorf("select among %d running containers: %w", len(running), err)
	}
	refs := make([]containerRef, len(victims))
	for i, v := range victims {
		refs[i] = containerRef{ID: v.ID, Name: v.Name}
	}
	return eng, refs, fmt.Sprintf("%s of %d running with %s, seed %d", t.Selection, len(running), describeSelector(sel), seed), nil
}

// describeSelector renders a selector for messages.
func describeSelector(sel docker.Selector) string {
	var parts []string
	if len(sel.Names) > 0 {
		parts = append(parts, "names "+strings.Join(sel.Names, ", "))
	}
	if sel.NameRegex != "" {
		parts = append(parts, "names matching re2:"+sel.NameRegex)
	}
	if len(sel.Labels) > 0 {
		var ls []string
		for _, k := range slices.Sorted(maps.Keys(sel.Labels)) {
			ls = append(ls, k+"="+sel.Labels[k])
		}
		parts = append(parts, "labels "+strings.Join(ls, ", "))
	}
	return strings.Join(parts, " and ")
}

// containerAction is the fields of one container action (kill, stop,
// restart, pause), beyond the target's: an action kind is its fields
// struct, its containerOps and a registerContainerAction line (see
// pause.go).
type containerAction interface {
	// validate checks the action's own fields.
	validate() []error
	// describe is what follows the kind's name in descriptions, such as
	// " (SIGKILL)".
	describe() string
	// configure records the action's parameters in the injection.
	configure(inj *containerInjection)
}

// containerOps act on one container: do applies the action, undo brings
// it back to running (state is its state now). They are looked up by name
// when a ledger entry is reverted.
type containerOps struct {
	do   func(ctx context.Context, eng *docker.Engine, c *containerInjection, id string) error
	undo func(ctx context.Context, eng *docker.Engine, id, state string) (string, error)
}

var containerActions = map[string]containerOps{}

// registerContainerAction registers a container action as a fault kind.
func registerContainerAction[A containerAction](name, summary string, ops containerOps) {
	containerActions[name] = ops
	registerKind(kind{
		name:         name,
		group:        GroupContainer,
		summary:      summary,
		newFault:     func() Fault { return &containerFault[A]{kind: name} },
		newInjection: func() Injection { return new(containerInjection) },
	})
}

// containerFault acts on the containers its target picks.
type containerFault[A containerAction] struct {
	kind   string
	Target containerTarget `yaml:",inline"`
	Revert restoreField    `yaml:",inline"`
	Action A               `yaml:",inline"`
}

func (f *containerFault[A]) Kind() string { return f.kind }

func (f *containerFault[A]) Validate() []error {
	return append(f.Target.validate(), f.Action.validate()...)
}

func (f *containerFault[A]) Describe() string {
	return fmt.Sprintf("%s%s %s", f.kind, f.Action.describe(), f.Target.describe())
}

func (f *containerFault[A]) Resolve(ctx context.Context, env *Env) (Injection, error) {
	eng, refs, how, err := f.Target.pick(ctx, env)
	if err != nil {
		return nil, err
	}
	inj := &containerInjection{
		Host:       eng.Host(),
		Action:     f.kind,
		What:       f.kind + f.Action.describe(),
		Restore:    f.Revert.restore(),
		Selection:  how,
		Containers: refs,
	}
	f.Action.configure(inj)
	return inj, nil
}

// containerRef is one container an injection acts on.
type containerRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// containerInjection applies a container action to the picked containers
// and, on revert, brings back to running what it stopped, killed or paused.
type containerInjection struct {
	Host       string         `json:"docker_host"`
	Action     string         `json:"action"`
	What       string         `json:"what"`
	Signal     string         `json:"signal,omitempty"`
	Timeout    time.Duration  `json:"timeout,omitempty"`
	Restore    bool           `json:"restore"`
	Selection  string         `json:"selection"`
	Containers []containerRef `json:"containers"`
}

var _ Injection = (*containerInjection)(nil)

func (c *containerInjection) names() string {
	names := make([]string, len(c.Containers))
	for i, ref := range c.Containers {
		names[i] = ref.Name
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func (c *containerInjection) Describe() string {
	return fmt.Sprintf("%s container(s) %s (%s) on the docker engine at %s", c.What, c.names(), c.Selection, c.Host)
}

func (c *containerInjection) action() (containerOps, error) {
	a, ok := containerActions[c.Action]
	if !ok {
		return a, fmt.Errorf("unknown container action %q", c.Action)
	}
	return a, nil
}

// engine connects to the engine the containers are on.
func (c *containerInjection) engine(ctx context.Context, env *Env) (*docker.Engine, error) {
	return engineAt(ctx, env, c.Host)
}

// engineAt connects to the engine the environment names, which must be the
// one at host, as the ledger recorded it: a mismatch is an error rather
// than a revert on the wrong machine.
func engineAt(ctx context.Context, env *Env, host string) (*docker.Engine, error) {
	eng, err := env.docker(ctx)
	if err != nil {
		return nil, err
	}
	if host != "" && eng.Host() != host {
		return nil, fmt.Errorf("the containers are on the docker engine at %s, but this process reaches %s: run with DOCKER_HOST=%s", host, eng.Host(), host)
	}
	return eng, nil
}

func (c *containerInjection) Inject(ctx context.Context, env *Env) error {
	a, err := c.action()
	if err != nil {
		return err
	}
	eng, err := c.engine(ctx, env)
	if err != nil {
		return err
	}
	for _, ref := range c.Containers {
		if err := a.do(ctx, eng, c, ref.ID); err != nil {
			return fmt.Errorf("%s %s: %w", c.Action, ref.Name, err)
		}
	}
	return nil
}

func (c *containerInjection) Revert(ctx context.Context, env *Env) (string, error) {
	a, err := c.action()
	if err != nil {
		return "", err
	}
	if !c.Restore {
		return fmt.Sprintf("restore: false, container(s) %s left as the fault left them", c.names()), nil
	}
	eng, err := c.engine(ctx, env)
	if err != nil {
		return "", err
	}
	var notes []string
	var errs []error
	for _, ref := range c.Containers {
		info, err := eng.Inspect(ctx, ref.ID)
		if docker.IsNotFound(err) {
			notes = append(notes, ref.Name+" is gone")
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		note, err := a.undo(ctx, eng, ref.ID, info.State)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ref.Name, err))
			continue
		}
		notes = append(notes, ref.Name+" "+note)
	}
	if len(errs) > 0 {
		return "", errors.Join(errs...)
	}
	return strings.Join(notes, "; "), nil
}

// startIfDown is the undo of kill, stop and restart: start the container
// unless it runs (or the engine is restarting it already).
func startIfDown(ctx context.Context, eng *docker.Engine, id, state string) (string, error) {
	switch state {
	case "running":
		return "already running", nil
	case "restarting":
		return "being restarted by the engine", nil
	case "paused":
		if err := eng.Unpause(ctx, id); err != nil {
			return "", err
		}
		return "unpaused", nil
	}
	if err := eng.Start(ctx, id); err != nil {
		return "", err
	}
	return "started", nil
}
