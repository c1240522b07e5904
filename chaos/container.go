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

// containerFields are the fields every container kind accepts.
var containerFields = []string{"names", "labels", "mode", "value", "seed", "restore"}

// containerAction is one container kind's verb.
type containerAction struct {
	name    string
	summary string
	fields  []string // the kind's own fields, beyond containerFields
	// validate checks the kind's own fields.
	validate func(Spec) []error
	// describe says what the action does, such as "kill (SIGKILL)".
	describe func(Spec) string
	// do applies the action to one container.
	do func(ctx context.Context, eng *docker.Engine, c *containerInjection, id string) error
	// undo brings one container back to running; state is its state now.
	undo func(ctx context.Context, eng *docker.Engine, id, state string) (string, error)
}

var containerActions = map[string]*containerAction{}

// registerContainerAction registers a container action as a fault kind.
func registerContainerAction(a containerAction) {
	containerActions[a.name] = &a
	registerKind(kind{
		name:         a.name,
		group:        "container",
		summary:      a.summary,
		fields:       append(append([]string{}, containerFields...), a.fields...),
		build:        func(s Spec) Fault { return &containerFault{action: containerActions[a.name], spec: s} },
		newInjection: func() Injection { return new(containerInjection) },
	})
}

// containerFault acts on the containers its selector and selection pick.
type containerFault struct {
	action *containerAction
	spec   Spec
}

var _ Fault = (*containerFault)(nil)

func (f *containerFault) Kind() string { return f.action.name }

// selector turns the names (with at most one "re2:" regex) and labels into
// the engine's selector.
func selectorOf(s Spec) (docker.Selector, error) {
	sel := docker.Selector{Labels: s.Labels}
	for _, n := range s.Names {
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

func (f *containerFault) Validate() []error {
	var errs []error
	sel, err := selectorOf(f.spec)
	if err != nil {
		errs = append(errs, err)
	} else if sel.IsEmpty() {
		errs = append(errs, errors.New("select containers with names (exact, or one re2:EXPR) or labels"))
	}
	errs = append(errs, f.spec.Selection.Validate()...)
	if f.action.validate != nil {
		errs = append(errs, f.action.validate(f.spec)...)
	}
	return errs
}

func (f *containerFault) Describe() string {
	sel, _ := selectorOf(f.spec)
	return fmt.Sprintf("%s %s of the running containers with %s", f.action.describe(f.spec), f.spec.Selection, describeSelector(sel))
}

func (f *containerFault) Resolve(ctx context.Context, env *Env) (Injection, error) {
	sel, err := selectorOf(f.spec)
	if err != nil {
		return nil, err
	}
	eng, err := env.docker(ctx)
	if err != nil {
		return nil, err
	}
	matches, err := eng.List(ctx, sel)
	if err != nil {
		return nil, fmt.Errorf("docker engine at %s: %w", eng.Host(), err)
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
		return nil, errors.New(msg)
	}
	seed := f.spec.seed(env)
	victims, err := Pick(running, func(c docker.ContainerInfo) string { return c.Name }, f.spec.Selection, seed)
	if err != nil {
		return nil, fmt.Errorf("select among %d running containers: %w", len(running), err)
	}
	inj := &containerInjection{
		Host:      eng.Host(),
		Action:    f.action.name,
		What:      f.action.describe(f.spec),
		Signal:    killSignal(f.spec),
		Timeout:   timeoutOr(f.spec, 0),
		Restore:   f.spec.restore(),
		Selection: fmt.Sprintf("%s of %d running with %s, seed %d", f.spec.Selection, len(running), describeSelector(sel), seed),
	}
	for _, v := range victims {
		inj.Containers = append(inj.Containers, containerRef{ID: v.ID, Name: v.Name})
	}
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

func (c *containerInjection) action() (*containerAction, error) {
	a, ok := containerActions[c.Action]
	if !ok {
		return nil, fmt.Errorf("unknown container action %q", c.Action)
	}
	return a, nil
}

// engine connects to the engine the containers are on. The ledger records
// the host, and the engine is the one the environment names; a mismatch is
// an error rather than a revert on the wrong machine.
func (c *containerInjection) engine(ctx context.Context, env *Env) (*docker.Engine, error) {
	eng, err := env.docker(ctx)
	if err != nil {
		return nil, err
	}
	if c.Host != "" && eng.Host() != c.Host {
		return nil, fmt.Errorf("the containers are on the docker engine at %s, but this process reaches %s: run with DOCKER_HOST=%s", c.Host, eng.Host(), c.Host)
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

// killSignal is the signal of a kill fault, SIGKILL by default.
func killSignal(s Spec) string {
	if s.Kind != "kill" {
		return ""
	}
	if s.Signal == "" {
		return "SIGKILL"
	}
	return normalSignal(s.Signal)
}
