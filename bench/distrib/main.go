// Command distrib measures what going wide costs the coordinator: it runs
// one load on 1, 3 and 8 local worker processes (faultline load
// --generators N, through the same library) against bench/target, and
// reads the coordinator's own CPU time (getrusage of this process: the
// workers are other processes) per merged interval and per worker
// interval. It prints a Markdown table.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/faultline-dev/faultline/internal/distrib"
	"github.com/faultline-dev/faultline/loadgen"
)

func main() {
	bin := flag.String("bin", "bench/out/bin", "folder holding the faultline and target binaries")
	rate := flag.Float64("rate", 2000, "total arrival rate per second, split over the workers")
	duration := flag.Duration("duration", 20*time.Second, "length of each run")
	workers := flag.String("workers", "1,3,8", "worker counts to measure")
	flag.Parse()
	if err := run(*bin, *rate, *duration, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "distrib:", err)
		os.Exit(1)
	}
}

func run(bin string, rate float64, duration time.Duration, counts string) error {
	target := exec.Command("taskset", "-c", "0", bin+"/target")
	out, err := target.StdoutPipe()
	if err != nil {
		return err
	}
	if err := target.Start(); err != nil {
		return err
	}
	defer func() { _ = target.Process.Signal(os.Interrupt); _ = target.Wait() }()
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		return fmt.Errorf("target printed nothing")
	}
	addr := strings.Fields(sc.Text())[0]
	fmt.Printf("| workers | merged intervals | coordinator CPU | CPU per merged interval | CPU per worker interval | requests |\n|---|---|---|---|---|---|\n")
	for _, c := range strings.Split(counts, ",") {
		var n int
		if _, err := fmt.Sscan(c, &n); err != nil {
			return fmt.Errorf("workers %q: %w", c, err)
		}
		if err := measure(bin, "http://"+addr+"/", n, rate, duration); err != nil {
			return err
		}
	}
	return nil
}

// measure runs the load on n workers and prints one row.
func measure(bin, url string, n int, rate float64, duration time.Duration) error {
	token, err := distrib.NewToken()
	if err != nil {
		return err
	}
	local, err := distrib.StartLocal(context.Background(), bin+"/faultline", n, token, nil)
	if err != nil {
		return err
	}
	defer local.Close()
	tg, err := loadgen.NewTarget("GET", url)
	if err != nil {
		return err
	}
	spec := loadgen.Spec{Shape: loadgen.Shape{Model: loadgen.Open, Rate: rate, Duration: duration},
		Targets: []loadgen.Target{tg}, Tool: "faultline bench", Grace: 2 * time.Second}
	before := selfCPU()
	o, err := distrib.Run(context.Background(), distrib.Config{Workers: local.Endpoints, Token: token, Spec: spec})
	if err != nil {
		return err
	}
	cpu := selfCPU() - before
	iv := o.Result.Intervals
	workerIntervals := 0
	for _, w := range o.Workers {
		workerIntervals += w.Intervals
	}
	fmt.Printf("| %d | %d | %s | %s | %s | %d |\n", n, iv, cpu.Round(time.Millisecond),
		(cpu / time.Duration(max(iv, 1))).Round(time.Microsecond), (cpu / time.Duration(max(workerIntervals, 1))).Round(time.Microsecond),
		o.Result.Total.Completed(""))
	return nil
}

// selfCPU is this process's user plus system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
