// Package output writes the files faultline produces (reports, results
// files, plots) so that a reader never sees half of one: a regular file
// appears whole or not at all, a device or a pipe is written through, and
// a path that cannot be written is refused before the work starts.
package output

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// File is a file being written. A new path or a regular file is written
// through a temporary file beside it, synced and renamed into place by
// Commit, so it is complete or untouched: a reader never sees half a
// report, and a failed write leaves nothing. A symbolic link is followed:
// its target is written that way, and the link stays. A character device
// or a named pipe (/dev/null, /dev/stdout, a FIFO a script reads) is
// written through as it is, since renaming over it would replace the
// device with a plain file. Anything else is refused.
type File struct {
	f *os.File
	// final is where a temporary file is renamed to; empty when f is the
	// destination itself.
	final string
}

// Check reports, without writing anything, why path could not be
// written: a directory, a missing folder, a dangling link, a socket or a
// block device. Commands call it for every output path before they start
// work whose result would otherwise be lost.
func Check(path string) error {
	target, fi, err := resolveOutput(path)
	if err != nil {
		return err
	}
	if fi != nil && !fi.Mode().IsRegular() {
		return nil // a device or pipe, written through
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".check-*")
	if err != nil {
		return fmt.Errorf("%s: cannot write in its folder: %w", path, unwrapPathError(err))
	}
	tmp.Close()
	return os.Remove(tmp.Name())
}

// Create starts writing path; see File.
func Create(path string) (*File, error) {
	target, fi, err := resolveOutput(path)
	if err != nil {
		return nil, err
	}
	if fi != nil && !fi.Mode().IsRegular() {
		f, err := os.OpenFile(target, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		return &File{f: f}, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &File{f: tmp, final: target}, nil
}

// resolveOutput follows path's symbolic links and returns what is to be
// written and its file info (nil when it does not exist yet). A device or
// pipe is written at path itself: /dev/stdout leads through /proc to a
// pipe that has no name of its own.
func resolveOutput(path string) (string, fs.FileInfo, error) {
	if path == "" {
		return "", nil, errors.New("no file name")
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if lfi, lerr := os.Lstat(path); lerr == nil && lfi.Mode()&fs.ModeSymlink != 0 {
			return "", nil, fmt.Errorf("%s is a symbolic link to a file that does not exist", path)
		}
		dir, derr := os.Stat(filepath.Dir(path))
		if derr != nil {
			return "", nil, fmt.Errorf("%s: its folder %s: %w", path, filepath.Dir(path), unwrapPathError(derr))
		}
		if !dir.IsDir() {
			return "", nil, fmt.Errorf("%s: %s is not a folder", path, filepath.Dir(path))
		}
		return path, nil, nil
	case err != nil:
		return "", nil, err
	case fi.IsDir():
		return "", nil, fmt.Errorf("%s is a directory: give a file name", path)
	case fi.Mode()&(fs.ModeCharDevice|fs.ModeNamedPipe) != 0:
		return path, fi, nil
	case fi.Mode().IsRegular():
		// Rename onto the link's target, not onto the link.
		target, err := filepath.EvalSymlinks(path)
		if err != nil {
			return "", nil, err
		}
		return target, fi, nil
	default:
		return "", nil, fmt.Errorf("%s is a %s, not a file faultline writes", path, describeMode(fi.Mode()))
	}
}

func describeMode(m fs.FileMode) string {
	switch {
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "block device"
	default:
		return "special file"
	}
}

// unwrapPathError drops the path an *fs.PathError repeats, for messages
// that already name it.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Name is the file being written (the temporary one, for a regular file).
func (o *File) Name() string { return o.f.Name() }

// Write writes to the output.
func (o *File) Write(p []byte) (int, error) { return o.f.Write(p) }

// WriteString writes s to the output.
func (o *File) WriteString(s string) (int, error) { return o.f.WriteString(s) }

// Commit finishes the output: a temporary file is synced, made readable
// by all (CreateTemp makes it private; reports are for sharing) and
// renamed into place. On error nothing is left at the destination.
func (o *File) Commit() error {
	if o.final == "" {
		return o.f.Close()
	}
	err := o.f.Sync()
	if err == nil {
		err = o.f.Chmod(0o644)
	}
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(o.f.Name(), o.final)
	}
	if err != nil {
		os.Remove(o.f.Name())
	}
	return err
}

// Abort discards a temporary file; a device or pipe keeps what it got.
func (o *File) Abort() {
	o.f.Close()
	if o.final != "" {
		os.Remove(o.f.Name())
	}
}

// WriteFile writes path with write, as File does: atomically for a
// new path or a regular file (through a link to one), straight through for
// a device or a pipe.
func WriteFile(path string, write func(io.Writer) error) error {
	out, err := Create(path)
	if err != nil {
		return err
	}
	if err := write(out); err != nil {
		out.Abort()
		return err
	}
	return out.Commit()
}
