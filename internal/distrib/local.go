package distrib

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"
)

// ListeningPrefix starts the line a worker prints on stdout once it
// listens; its URL follows.
const ListeningPrefix = "faultline worker listening on "

// Local is worker processes the coordinator started on this machine, each
// listening on a loopback port the system chose.
type Local struct {
	Endpoints []Endpoint
	procs     []*exec.Cmd
}

// StartLocal starts n workers from the faultline binary exe (they watch
// their parent, so they end with it even after a SIGKILL), with the token
// in their environment. Their logs go to stderr (nil: discarded).
func StartLocal(ctx context.Context, exe string, n int, token string, stderr io.Writer) (*Local, error) {
	l := &Local{}
	for i := range n {
		name := fmt.Sprintf("local-%d", i)
		cmd := exec.Command(exe, "worker", "--listen", "127.0.0.1:0", "--name", name, "--parent-watch")
		cmd.Env = append(os.Environ(), TokenEnv+"="+token)
		cmd.Stderr = stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			l.Close()
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			l.Close()
			return nil, fmt.Errorf("start worker %s: %w", name, err)
		}
		l.procs = append(l.procs, cmd)
		u, err := readListening(ctx, out)
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("worker %s: %w", name, err)
		}
		l.Endpoints = append(l.Endpoints, Endpoint{Name: name, URL: u})
	}
	return l, nil
}

// readListening reads the worker's listening line (within 10s) and drains
// the rest of its stdout.
func readListening(ctx context.Context, out io.Reader) (*url.URL, error) {
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		first := true
		for sc.Scan() {
			if first {
				line <- sc.Text()
				first = false
			}
		}
		if first {
			close(line)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	select {
	case s, ok := <-line:
		if !ok || !strings.HasPrefix(s, ListeningPrefix) {
			return nil, errors.New("did not start listening")
		}
		return url.Parse(strings.TrimPrefix(s, ListeningPrefix))
	case <-ctx.Done():
		return nil, fmt.Errorf("did not start listening: %w", ctx.Err())
	}
}

// Pid is worker i's process id.
func (l *Local) Pid(i int) int { return l.procs[i].Process.Pid }

// Close stops the workers (SIGTERM, then SIGKILL after 5s) and waits.
func (l *Local) Close() {
	for _, p := range l.procs {
		_ = p.Process.Signal(os.Interrupt)
	}
	for _, p := range l.procs {
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = p.Process.Kill()
			<-done
		}
	}
	l.procs = nil
}
