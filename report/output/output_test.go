package output

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}
}

// TestWriteFileDestinations checks what each kind of destination
// becomes: new paths and regular files are replaced atomically, a link's
// target is written and the link kept, and directories, missing folders
// and dangling links are refused (by Check too, before any work).
func TestWriteFileDestinations(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		setup   func(t *testing.T, dir string) string // returns the path to write
		wantErr string
		check   func(t *testing.T, dir string)
	}{
		{"new file", func(t *testing.T, dir string) string { return filepath.Join(dir, "r.txt") }, "", func(t *testing.T, dir string) {
			wantContent(t, filepath.Join(dir, "r.txt"), "new")
		}},
		{"regular file", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "r.txt")
			mustWrite(t, p, "old")
			return p
		}, "", func(t *testing.T, dir string) { wantContent(t, filepath.Join(dir, "r.txt"), "new") }},
		{"symlink to a file", func(t *testing.T, dir string) string {
			target := filepath.Join(dir, "target.txt")
			mustWrite(t, target, "old")
			link := filepath.Join(dir, "link.txt")
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			return link
		}, "", func(t *testing.T, dir string) {
			wantContent(t, filepath.Join(dir, "target.txt"), "new")
			if fi, err := os.Lstat(filepath.Join(dir, "link.txt")); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
				t.Errorf("the link was replaced: %v %v", fi.Mode(), err)
			}
		}},
		{"dangling symlink", func(t *testing.T, dir string) string {
			link := filepath.Join(dir, "link.txt")
			if err := os.Symlink(filepath.Join(dir, "nowhere.txt"), link); err != nil {
				t.Fatal(err)
			}
			return link
		}, "symbolic link to a file that does not exist", nil},
		{"directory", func(t *testing.T, dir string) string { return dir }, "is a directory", nil},
		{"missing folder", func(t *testing.T, dir string) string { return filepath.Join(dir, "no", "r.txt") }, "no such file or directory", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := c.setup(t, dir)
			checkErr := Check(path)
			err := WriteFile(path, writeString("new"))
			for _, e := range []error{checkErr, err} {
				if c.wantErr == "" && e != nil || c.wantErr != "" && (e == nil || !strings.Contains(e.Error(), c.wantErr)) {
					t.Errorf("error %v, want %q", e, c.wantErr)
				}
			}
			if c.check != nil {
				c.check(t, dir)
			}
			if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*tmp-*")); len(leftovers) > 0 {
				t.Errorf("temporary files left: %v", leftovers)
			}
		})
	}
}

// TestWriteFileWritesThroughDevices checks that a character device
// and a named pipe are written as they are, not replaced by a plain file.
func TestWriteFileWritesThroughDevices(t *testing.T) {
	t.Parallel()
	if err := WriteFile(os.DevNull, writeString("discarded")); err != nil {
		t.Fatalf("write %s: %v", os.DevNull, err)
	}
	if fi, err := os.Stat(os.DevNull); err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
		t.Fatalf("%s is no longer a character device: %v %v", os.DevNull, fi.Mode(), err)
	}
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	got := make(chan string, 1)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- err.Error()
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		got <- string(b)
	}()
	if err := WriteFile(fifo, writeString("through the pipe")); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "through the pipe" {
		t.Errorf("the reader got %q", s)
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Errorf("the pipe was replaced: %v %v", fi.Mode(), err)
	}
}

func mustWrite(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func wantContent(t *testing.T, path, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || string(b) != want {
		t.Errorf("%s holds %q (%v), want %q", path, b, err, want)
	}
}
