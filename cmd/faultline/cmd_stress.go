package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/internal/stress"
)

func init() { register("stress", newStressCmd) }

// parentWatchInterval is how often the parent watch looks at the parent pid.
const parentWatchInterval = 250 * time.Millisecond

// stressOptions are the flags both stressors share.
type stressOptions struct {
	duration time.Duration
	// parentWatch is --parent-watch; parentWatchSet says it was given,
	// else the watch is on whenever it can work (see watchParent).
	parentWatch    bool
	parentWatchSet bool
}

func (o *stressOptions) addFlags(c *cobra.Command) {
	c.Flags().DurationVar(&o.duration, "for", 0, "how long to stress (required; at most 24h): the process exits at this deadline whatever happens")
	c.Flags().BoolVar(&o.parentWatch, "parent-watch", false, "stop as soon as the parent process ends (its parent pid changes, or is 1); "+
		"without the flag it is on when the parent pid is above 1 and off when it is 0 or 1 (exec'd into a container); --parent-watch=false turns it off")
}

// watchParent says whether to watch the parent, given the parent pid at
// start. Unasked, the watch is on whenever it can work: a parent pid of 0
// is a process exec'd into a container, whose parent is outside its pid
// namespace and never changes, and 1 is init or a container's first
// process, whose end is the container's (or a parent that already ended),
// so neither is a parent to watch there; --for is the switch in both.
func (o *stressOptions) watchParent(ppid int) bool {
	if o.parentWatchSet {
		return o.parentWatch
	}
	return ppid > 1
}

func (o *stressOptions) validate(c *cobra.Command) error {
	o.parentWatchSet = c.Flags().Changed("parent-watch")
	if o.duration == 0 {
		return usageErrorf("--for is required: the stress always ends, such as --for 30s")
	}
	if o.duration < 0 || o.duration > stress.MaxFor {
		return usageErrorf("--for: %v: give a duration above 0 and at most %v, such as 30s", o.duration, stress.MaxFor)
	}
	return nil
}

// run gives ctx the absolute deadline of --for (and the parent watch),
// prints the start line (started, which ends with what the stressor
// watches), runs the stressor and resolves how it ended: at the deadline is
// success. The line comes after the parent watch's first look, so whoever
// reads it knows that the stressor now stops when its parent ends.
func (o *stressOptions) run(ctx context.Context, stdout io.Writer, started string, stressor func(context.Context) error) error {
	ctx, cancel := context.WithDeadline(ctx, time.Now().Add(o.duration))
	defer cancel()
	ppid := os.Getppid()
	watch := fmt.Sprintf("parent %d not watched", ppid)
	if o.watchParent(ppid) {
		var stop func()
		ctx, stop = stress.UntilParentEnds(ctx, os.Getppid, parentWatchInterval)
		defer stop()
		watch = fmt.Sprintf("stops when parent %d ends", ppid)
	}
	fmt.Fprintf(stdout, "%s (pid %d, %s)\n", started, os.Getpid(), watch)
	if err := stressor(ctx); err != nil {
		return err
	}
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, context.DeadlineExceeded):
		return nil
	case errors.Is(cause, stress.ErrParentEnded):
		return fmt.Errorf("stress stopped: %w: %w", cause, context.Canceled)
	default:
		return fmt.Errorf("stress stopped: %w", cause)
	}
}

func newStressCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "stress",
		Short: "Burn CPU or hold memory in this process, for a bounded time",
		Long: `stress makes this process a stressor: it burns a share of CPU or keeps memory
resident until --for ends, and always exits then. It also exits when its
parent process ends, whenever it has one to watch (see --parent-watch of
stress cpu and stress memory). The cpu_stress and
memory_stress fault kinds copy the static faultline binary into a container
and run it there, so the load lands in that container's cgroup.`,
		Args: cobra.NoArgs,
	}
	c.AddCommand(newStressCPUCmd(e), newStressMemoryCmd(e), newStressStopCmd(e))
	return c
}

func newStressCPUCmd(e *env) *cobra.Command {
	var opts stressOptions
	var load, workers int
	c := &cobra.Command{
		Use:   "cpu --load PERCENT [--workers N] --for DURATION",
		Short: "Keep each of N threads at a share of a CPU",
		Long: `cpu keeps each of --workers threads busy for --load percent of a CPU. The duty
cycle is measured against each thread's own CPU time (spin until the thread
has used load% of 100ms of CPU, then idle the rest), so under contention a
worker still burns its share of the CPU it gets.`,
		Example: "  faultline stress cpu --load 80 --workers 2 --for 30s",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !stress.ValidLoad(load) {
				return usageErrorf("--load: %d: give a percentage of a CPU from 1 to 100", load)
			}
			if workers < 1 {
				return usageErrorf("--workers: %d: at least 1", workers)
			}
			if err := opts.validate(cmd); err != nil {
				return err
			}
			started := fmt.Sprintf("stress cpu: %d worker(s) at %d%% of a CPU for %v", workers, load, opts.duration)
			return opts.run(cmd.Context(), e.stdout, started, func(ctx context.Context) error { return stress.CPU(ctx, load, workers) })
		},
	}
	c.Flags().IntVar(&load, "load", 0, "the share of a CPU each worker burns, in percent (required; 1 to 100)")
	c.Flags().IntVar(&workers, "workers", 1, "the number of worker threads")
	opts.addFlags(c)
	return c
}

func newStressMemoryCmd(e *env) *cobra.Command {
	var opts stressOptions
	var size string
	c := &cobra.Command{
		Use:   "memory --size SIZE --for DURATION",
		Short: "Allocate memory, touch every page and keep it resident",
		Long: `memory allocates --size bytes, writes to every page so that it is resident, and
writes to every page again each second until --for ends.`,
		Example: "  faultline stress memory --size 256MiB --for 30s",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bytes, err := parseStressSize(size)
			if err != nil {
				return err
			}
			if err := opts.validate(cmd); err != nil {
				return err
			}
			started := fmt.Sprintf("stress memory: %v resident for %v", chaos.Size(bytes), opts.duration)
			return opts.run(cmd.Context(), e.stdout, started, func(ctx context.Context) error { return stress.Memory(ctx, bytes, nil) })
		},
	}
	c.Flags().StringVar(&size, "size", "", "how much memory to keep resident, with its unit (required), such as 256MiB")
	opts.addFlags(c)
	return c
}

// parseStressSize parses --size, which must carry its unit: a bare number
// is more likely a mistake (MiB meant) than a number of bytes.
func parseStressSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.IndexAny(s[len(s)-1:], "0123456789.") == 0 {
		return 0, usageErrorf("--size: %q: give a size with its unit, such as 256MiB", s)
	}
	n, err := chaos.ParseSize(s)
	if err != nil {
		return 0, usageErrorf("--size: %v", err)
	}
	if n <= 0 {
		return 0, usageErrorf("--size: %q: must be above 0", s)
	}
	return int64(n), nil
}

func newStressStopCmd(e *env) *cobra.Command {
	var remove bool
	var within time.Duration
	c := &cobra.Command{
		Use:   "stop [--remove]",
		Short: "Stop the stressors that run this same executable (Linux)",
		Long: `stop sends SIGTERM to every process that runs this same executable as
"stress cpu" or "stress memory", and waits until they have ended. --remove
then deletes the executable itself: the stress faults copy faultline into a
container, and revert it by running this there.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), within)
			defer cancel()
			n, err := stress.Stop(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "stress stop: %d stressor(s) stopped\n", n)
			if remove {
				self, err := os.Executable()
				if err != nil {
					return fmt.Errorf("remove the executable: %w", err)
				}
				if err := os.Remove(self); err != nil {
					return fmt.Errorf("remove the executable: %w", err)
				}
				fmt.Fprintf(e.stdout, "stress stop: removed %s\n", self)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&remove, "remove", false, "then delete this executable")
	c.Flags().DurationVar(&within, "within", 10*time.Second, "how long to wait for the stressors to end")
	return c
}
