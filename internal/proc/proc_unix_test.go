//go:build linux

package proc

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestExistsIsFalseForAZombie: a child that has exited but has not been
// waited for keeps its pid (a zombie), and has ended all the same.
func TestExistsIsFalseForAZombie(t *testing.T) {
	if !Exists(os.Getpid()) || StartTime(os.Getpid()) == 0 {
		t.Fatalf("this process: exists %v, start %d", Exists(os.Getpid()), StartTime(os.Getpid()))
	}
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command(bin, "-test.run=^$")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	pid := child.Process.Pid
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if f := statFields(pid); len(f) > 0 && f[0] == "Z" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d not a zombie after 20s: %v", pid, statFields(pid))
		}
	}
	if Exists(pid) {
		t.Errorf("Exists(%d) = true for a zombie", pid)
	}
	child.Wait()
}
