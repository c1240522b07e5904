package docker

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"time"

	"github.com/docker/docker/api/types/container"
)

// CopyFile copies a file of this machine into a container's filesystem
// (CopyToContainer), at the absolute path f.ImagePath, whose directory
// must exist. The container need not have a shell or anything else.
func (e *Engine) CopyFile(ctx context.Context, id string, f ImageFile) error {
	if !path.IsAbs(f.ImagePath) {
		return fmt.Errorf("copy to container %s: %q is not an absolute path", id, f.ImagePath)
	}
	// The archive is written into a pipe by a goroutine this call owns and
	// waits for, so a large binary is never held in memory.
	pr, pw := io.Pipe()
	writeDone := make(chan error, 1)
	go func() {
		tw := tar.NewWriter(pw)
		err := addFile(tw, path.Base(f.ImagePath), f)
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
		writeDone <- err
	}()
	err := e.cli.CopyToContainer(ctx, id, path.Dir(f.ImagePath), pr, container.CopyToContainerOptions{})
	pr.CloseWithError(errors.New("copy finished"))
	werr := <-writeDone
	if err != nil {
		return fmt.Errorf("copy %s to container %s: %w", f.ImagePath, id, err)
	}
	if werr != nil {
		return fmt.Errorf("copy %s to container %s: %w", f.ImagePath, id, werr)
	}
	return nil
}

// Exec starts cmd in a running container, detached, without a shell (the
// first element is the executable), and returns the exec's ID.
func (e *Engine) Exec(ctx context.Context, id string, cmd []string) (string, error) {
	created, err := e.cli.ContainerExecCreate(ctx, id, container.ExecOptions{Cmd: cmd})
	if err != nil {
		return "", fmt.Errorf("exec in container %s: %w", id, err)
	}
	if err := e.cli.ContainerExecStart(ctx, created.ID, container.ExecStartOptions{Detach: true}); err != nil {
		return "", fmt.Errorf("exec in container %s: %w", id, err)
	}
	return created.ID, nil
}

// ExecState is what the engine reports of an exec.
type ExecState struct {
	Running  bool
	ExitCode int
	PID      int // on the engine's host
}

// InspectExec reports whether an exec still runs, and how it ended.
func (e *Engine) InspectExec(ctx context.Context, execID string) (ExecState, error) {
	in, err := e.cli.ContainerExecInspect(ctx, execID)
	if err != nil {
		return ExecState{}, fmt.Errorf("inspect exec %s: %w", execID, err)
	}
	return ExecState{Running: in.Running, ExitCode: in.ExitCode, PID: in.Pid}, nil
}

// execPoll is how often WaitExec asks the engine whether an exec has ended.
const execPoll = 50 * time.Millisecond

// WaitExec waits until an exec has ended and returns its exit code.
func (e *Engine) WaitExec(ctx context.Context, execID string) (int, error) {
	ticker := time.NewTicker(execPoll)
	defer ticker.Stop()
	for {
		st, err := e.InspectExec(ctx, execID)
		if err != nil {
			return 0, err
		}
		if !st.Running {
			return st.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("wait for exec %s: %w", execID, ctx.Err())
		case <-ticker.C:
		}
	}
}

// Usage is what a container's cgroup has used, from the engine's stats.
type Usage struct {
	CPU    time.Duration // CPU time so far (cpu_stats.cpu_usage.total_usage)
	Memory int64         // bytes in use now (memory_stats.usage)
}

// Usage reads the container's cgroup accounting once (one-shot stats).
func (e *Engine) Usage(ctx context.Context, id string) (Usage, error) {
	resp, err := e.cli.ContainerStatsOneShot(ctx, id)
	if err != nil {
		return Usage{}, fmt.Errorf("stats of container %s: %w", id, err)
	}
	defer resp.Body.Close()
	var stats container.StatsResponse
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		return Usage{}, fmt.Errorf("stats of container %s: %w", id, err)
	}
	return Usage{CPU: time.Duration(stats.CPUStats.CPUUsage.TotalUsage), Memory: int64(stats.MemoryStats.Usage)}, nil
}
