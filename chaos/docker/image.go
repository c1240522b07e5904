package docker

import (
	"archive/tar"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
)

// ImageFile is one file copied from the host into an image.
type ImageFile struct {
	HostPath  string // file on this machine
	ImagePath string // absolute path inside the image
	Mode      int64  // permission bits; 0 means 0o644
}

// ImageSpec describes an image built FROM scratch: no base image, nothing
// pulled, only the given files.
type ImageSpec struct {
	Tag        string // repository:tag, required
	Files      []ImageFile
	Entrypoint []string
	Labels     map[string]string
}

// BuildImage builds spec with the engine's classic builder from a tar build
// context streamed from memory, and returns the image ID. Since the image is
// FROM scratch, the build needs no registry.
func (e *Engine) BuildImage(ctx context.Context, spec ImageSpec) (string, error) {
	if spec.Tag == "" {
		return "", errors.New("build image: tag is empty")
	}
	if len(spec.Files) == 0 {
		return "", errors.New("build image: no files")
	}
	dockerfile, err := dockerfileFor(spec)
	if err != nil {
		return "", fmt.Errorf("build image %s: %w", spec.Tag, err)
	}
	for _, f := range spec.Files {
		if _, err := os.Stat(f.HostPath); err != nil {
			return "", fmt.Errorf("build image %s: %w", spec.Tag, err)
		}
	}

	// The context is written into a pipe by a goroutine this call owns and
	// waits for, so a large binary is never held in memory twice.
	pr, pw := io.Pipe()
	writeDone := make(chan error, 1)
	go func() {
		err := writeBuildContext(pw, dockerfile, spec.Files)
		pw.CloseWithError(err)
		writeDone <- err
	}()
	resp, err := e.cli.ImageBuild(ctx, pr, build.ImageBuildOptions{
		Tags:        []string{spec.Tag},
		Dockerfile:  "Dockerfile",
		Labels:      spec.Labels,
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		pr.CloseWithError(err)
		<-writeDone
		return "", fmt.Errorf("build image %s: %w", spec.Tag, err)
	}
	id, streamErr := readBuildStream(resp.Body)
	resp.Body.Close()
	pr.CloseWithError(errors.New("build finished"))
	werr := <-writeDone
	if streamErr != nil {
		return "", fmt.Errorf("build image %s: %w", spec.Tag, streamErr)
	}
	if werr != nil && id == "" {
		return "", fmt.Errorf("build image %s: write context: %w", spec.Tag, werr)
	}
	if id == "" {
		inspect, err := e.cli.ImageInspect(ctx, spec.Tag)
		if err != nil {
			return "", fmt.Errorf("build image %s: find built image: %w", spec.Tag, err)
		}
		id = inspect.ID
	}
	return id, nil
}

// RemoveImage force-removes an image and its untagged parents. A missing
// image is not an error.
func (e *Engine) RemoveImage(ctx context.Context, ref string) error {
	_, err := e.cli.ImageRemove(ctx, ref, image.RemoveOptions{Force: true, PruneChildren: true})
	if err != nil && !IsNotFound(err) {
		return fmt.Errorf("remove image %s: %w", ref, err)
	}
	return nil
}

// ImageExists reports whether ref names an image the engine has.
func (e *Engine) ImageExists(ctx context.Context, ref string) (bool, error) {
	_, err := e.cli.ImageInspect(ctx, ref)
	if IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	return true, nil
}

// dockerfileFor writes the Dockerfile of spec. Paths are JSON-quoted so that
// spaces survive.
func dockerfileFor(spec ImageSpec) (string, error) {
	var b strings.Builder
	b.WriteString("FROM scratch\n")
	for i, f := range spec.Files {
		if !path.IsAbs(f.ImagePath) {
			return "", fmt.Errorf("files[%d].image_path %q: must be absolute", i, f.ImagePath)
		}
		src, _ := json.Marshal(contextName(i))
		dst, _ := json.Marshal(f.ImagePath)
		fmt.Fprintf(&b, "COPY [%s, %s]\n", src, dst)
	}
	if len(spec.Entrypoint) > 0 {
		ep, _ := json.Marshal(spec.Entrypoint)
		fmt.Fprintf(&b, "ENTRYPOINT %s\n", ep)
	}
	return b.String(), nil
}

// contextName is the name of the i-th file inside the build context; the
// host names do not matter and could collide.
func contextName(i int) string { return fmt.Sprintf("file%d", i) }

func writeBuildContext(w io.Writer, dockerfile string, files []ImageFile) error {
	tw := tar.NewWriter(w)
	if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(dockerfile))}); err != nil {
		return err
	}
	if _, err := io.WriteString(tw, dockerfile); err != nil {
		return err
	}
	for i, f := range files {
		if err := addFile(tw, contextName(i), f); err != nil {
			return err
		}
	}
	return tw.Close()
}

func addFile(tw *tar.Writer, name string, f ImageFile) error {
	src, err := os.Open(f.HostPath)
	if err != nil {
		return err
	}
	defer src.Close()
	info, err := src.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", f.HostPath)
	}
	mode := f.Mode
	if mode == 0 {
		mode = 0o644
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: info.Size(), ModTime: info.ModTime()}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, src); err != nil {
		return fmt.Errorf("%s: %w", f.HostPath, err)
	}
	return nil
}

// buildMessage is one line of the engine's JSON build stream.
type buildMessage struct {
	Stream      string `json:"stream"`
	Error       string `json:"error"`
	ErrorDetail struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
	Aux json.RawMessage `json:"aux"`
}

// readBuildStream drains the build output, returning the image ID the
// classic builder reports in an aux message and the first error message.
func readBuildStream(r io.Reader) (string, error) {
	dec := json.NewDecoder(r)
	var id string
	var last string
	for {
		var m buildMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return id, nil
			}
			return id, fmt.Errorf("read build output: %w", err)
		}
		if m.Error != "" || m.ErrorDetail.Message != "" {
			msg := m.ErrorDetail.Message
			if msg == "" {
				msg = m.Error
			}
			if last != "" {
				return "", fmt.Errorf("%s (after: %s)", strings.TrimSpace(msg), last)
			}
			return "", errors.New(strings.TrimSpace(msg))
		}
		if s := strings.TrimSpace(m.Stream); s != "" {
			last = s
		}
		if len(m.Aux) > 0 {
			var aux struct {
				ID string `json:"ID"`
			}
			if json.Unmarshal(m.Aux, &aux) == nil && aux.ID != "" {
				id = aux.ID
			}
		}
	}
}

// CheckStaticBinary returns an error unless path is a statically linked
// Linux executable, which is all a FROM scratch image, or a container
// without a dynamic loader, can run.
func CheckStaticBinary(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("binary %s: not a Linux executable: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("binary %s is dynamically linked: rebuild it with CGO_ENABLED=0", path)
		}
	}
	return nil
}
