package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/chaos/docker"
	"github.com/faultline-dev/faultline/internal/stress"
)

func init() {
	registerKind(kind{
		name:         "cpu_stress",
		group:        GroupContainer,
		summary:      "burn load percent of a CPU in each of workers threads inside containers (faultline stress cpu, copied in and exec'd), or take load percent of an in-process service's core (service); revert stops it",
		newFault:     func() Fault { return new(cpuStressFault) },
		newInjection: func() Injection { return new(stressInjection) },
	})
}

// defaultStressLimit is the stressor's own time limit when max_duration is
// not given: the dead-man's switch for a fault that is never reverted.
const defaultStressLimit = time.Hour

// cpuStressFault runs `faultline stress cpu` inside containers, so that
// the load is charged to their cgroups, as a busy neighbour process would.
type cpuStressFault struct {
	Target      containerTarget `yaml:",inline"`
	StressCPU   `yaml:",inline"`
	StressLimit `yaml:",inline"`
	Service     string `yaml:"service,omitempty" doc:"instead of containers: the bundled service running inside faultline whose core the stressor shares (load 1 to 99; see the in-process model in docs/chaos.md)"`
}

var _ Fault = (*cpuStressFault)(nil)

func (f *cpuStressFault) Kind() string { return "cpu_stress" }

func (f *cpuStressFault) Validate() []error {
	if f.Service != "" {
		return f.validateInProcess()
	}
	errs := f.Target.validate()
	if !stress.ValidLoad(f.Load) {
		errs = append(errs, fieldErrorf("load", "load %d: want a percentage of a CPU from 1 to 100, such as 80", f.Load))
	}
	if f.Workers < 0 {
		errs = append(errs, fieldErrorf("workers", "workers %d: want at least 1", f.Workers))
	}
	return append(errs, validateStressLimit(f.MaxDuration)...)
}

func (f *cpuStressFault) workers() int { return max(f.Workers, 1) }

func (f *cpuStressFault) what() string {
	return fmt.Sprintf("cpu_stress %d%% x%d", f.Load, f.workers())
}

func (f *cpuStressFault) Describe() string {
	if f.Service != "" {
		return fmt.Sprintf("cpu_stress %d%% on in-process service %s", f.Load, f.Service)
	}
	return f.what() + " on " + f.Target.describe()
}

func (f *cpuStressFault) Resolve(ctx context.Context, env *Env) (Injection, error) {
	if f.Service != "" {
		return f.resolveInProcess(env)
	}
	args := []string{"cpu", "--load", strconv.Itoa(f.Load), "--workers", strconv.Itoa(f.workers())}
	return resolveStress(ctx, env, f.Target, f.what(), args, f.MaxDuration)
}

// validateStressLimit checks a stress fault's max_duration.
func validateStressLimit(d time.Duration) []error {
	if d < 0 || d > stress.MaxFor {
		return []error{fieldErrorf("max_duration", "max_duration %v: want at most %v, such as 10m", d, stress.MaxFor)}
	}
	return nil
}

// resolveStress picks the target's containers and plans the stressor for
// each: where the binary goes and how it is run, touching nothing.
func resolveStress(ctx context.Context, env *Env, target containerTarget, what string, args []string, limit time.Duration) (Injection, error) {
	binary := env.StressBinary
	if binary == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("the faultline binary to copy: %w", err)
		}
		binary = self
	}
	if err := docker.CheckStaticBinary(binary); err != nil {
		return nil, fmt.Errorf("the faultline binary to copy: %w", err)
	}
	eng, refs, how, err := target.pick(ctx, env)
	if err != nil {
		return nil, err
	}
	if limit == 0 {
		limit = defaultStressLimit
	}
	var nonce [6]byte
	rand.Read(nonce[:])
	return &stressInjection{
		Host: eng.Host(), What: what, Selection: how, Containers: refs, Binary: binary,
		Path: "/.faultline-stress-" + hex.EncodeToString(nonce[:]),
		Args: stressorArgs(args, limit),
	}, nil
}

// stressorArgs is the command line of a stressor exec'd into a container
// or a pod: the kind's args after "stress", bounded by --for limit. The
// parent watch is off: the stressor's parent is the container runtime, not
// faultline, so it has nothing to watch (the revert, and --for after a
// SIGKILL, stop it), and under a host pid namespace (--pid=host, hostPID)
// its parent could be runc for an instant, which the watch would take for
// a parent that ended.
func stressorArgs(args []string, limit time.Duration) []string {
	return append(append([]string{"stress"}, args...), "--for", limit.String(), "--parent-watch=false")
}

// stressInjection copies the faultline binary into containers at Path and
// execs it with Args, a stressor whose own --for bounds it; revert execs
// `stress stop --remove` there, which ends the stressor and deletes the
// copy. The Docker Engine API alone does it: no shell, no image.
type stressInjection struct {
	// InProcess is set instead of the rest for a stress on a service
	// running inside faultline (see cpu_stress_service.go).
	InProcess *serviceStress `json:"in_process,omitempty"`

	Host       string         `json:"docker_host"`
	What       string         `json:"what"`
	Selection  string         `json:"selection"`
	Containers []containerRef `json:"containers"`
	Binary     string         `json:"binary"`
	Path       string         `json:"path"`
	Args       []string       `json:"args"`
}

var _ Injection = (*stressInjection)(nil)

func (s *stressInjection) Describe() string {
	if s.InProcess != nil {
		return s.InProcess.describe()
	}
	names := make([]string, len(s.Containers))
	for i, c := range s.Containers {
		names[i] = c.Name
	}
	return fmt.Sprintf("%s on container(s) %s (%s) on the docker engine at %s", s.What, strings.Join(names, ", "), s.Selection, s.Host)
}

func (s *stressInjection) Inject(ctx context.Context, env *Env) error {
	if s.InProcess != nil {
		return s.InProcess.inject(env)
	}
	eng, err := engineAt(ctx, env, s.Host)
	if err != nil {
		return err
	}
	for _, c := range s.Containers {
		if err := eng.CopyFile(ctx, c.ID, docker.ImageFile{HostPath: s.Binary, ImagePath: s.Path, Mode: 0o755}); err != nil {
			return fmt.Errorf("%s %s: %w", s.What, c.Name, err)
		}
		execID, err := eng.Exec(ctx, c.ID, append([]string{s.Path}, s.Args...))
		if err != nil {
			return fmt.Errorf("%s %s: %w", s.What, c.Name, err)
		}
		// A binary that cannot run there (not a static Linux build of the
		// container's architecture) ends at once.
		if st, err := eng.InspectExec(ctx, execID); err == nil && !st.Running && st.ExitCode != 0 {
			return fmt.Errorf("%s %s: the stressor exited with status %d (is %s a static Linux build?)", s.What, c.Name, st.ExitCode, s.Binary)
		}
	}
	return nil
}

// stressStopTimeout bounds how long revert waits for a stressor to end.
const stressStopTimeout = 30 * time.Second

func (s *stressInjection) Revert(ctx context.Context, env *Env) (string, error) {
	if s.InProcess != nil {
		return s.InProcess.revert(env)
	}
	eng, err := engineAt(ctx, env, s.Host)
	if err != nil {
		return "", err
	}
	var notes []string
	var errs []error
	for _, c := range s.Containers {
		note, err := s.stop(ctx, eng, c)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
			continue
		}
		notes = append(notes, c.Name+" "+note)
	}
	if len(errs) > 0 {
		return "", errors.Join(errs...)
	}
	return strings.Join(notes, "; "), nil
}

// stop ends the stressor in one container and removes the copy, by an
// exec of the copy itself.
func (s *stressInjection) stop(ctx context.Context, eng *docker.Engine, c containerRef) (string, error) {
	info, err := eng.Inspect(ctx, c.ID)
	switch {
	case docker.IsNotFound(err):
		return "is gone", nil
	case err != nil:
		return "", err
	case info.State != "running":
		// Its processes, the stressor among them, ended with it; the
		// engine cannot delete a file from a container that is not running.
		return fmt.Sprintf("is %s: the stressor ended with it; %s stays in its filesystem", info.State, s.Path), nil
	}
	execID, err := eng.Exec(ctx, c.ID, []string{s.Path, "stress", "stop", "--remove"})
	if err != nil {
		if strings.Contains(err.Error(), "no such file or directory") {
			return "has no stressor left", nil
		}
		return "", err
	}
	wctx, cancel := context.WithTimeout(ctx, stressStopTimeout)
	defer cancel()
	code, err := eng.WaitExec(wctx, execID)
	switch {
	case err != nil:
		return "", err
	case code == 126 || code == 127:
		return "has no stressor left", nil // the copy was already removed
	case code != 0:
		return "", fmt.Errorf("stress stop exited with status %d", code)
	}
	return "stressor stopped, " + s.Path + " removed", nil
}
