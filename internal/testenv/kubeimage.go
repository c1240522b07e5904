package testenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

var (
	kubeImageMu   sync.Mutex
	kubeImageRefs = map[string]string{}
)

// KubeFaultlineImage returns a Docker image of the static faultline binary
// (BuildFaultline) that the test cluster's pods can run: build makes the
// image under the tag it is given (the caller's package has the builder:
// targets.BuildImageWithEngine), and KubeImportImage loads it into the
// cluster. The tag is faultline-test/faultline:<hash of the binary>, so
// packages and worktrees with the same binary share one image, and pods never
// run another build's binary under a reused tag. The Docker copy is removed
// once imported. Once per test binary.
func KubeFaultlineImage(t testing.TB, build func(ctx context.Context, binary, tag string) error) string {
	t.Helper()
	kubeImageMu.Lock()
	defer kubeImageMu.Unlock()
	bin := BuildFaultline(t)
	if ref, ok := kubeImageRefs[bin]; ok {
		return ref
	}
	sum, err := fileHash(bin)
	if err != nil {
		t.Fatalf("hash %s: %v", bin, err)
	}
	ref := "faultline-test/faultline:" + sum[:16]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := build(ctx, bin, ref); err != nil {
		t.Fatalf("build image %s: %v", ref, err)
	}
	KubeImportImage(t, ref)
	if out, err := exec.Command("docker", "rmi", ref).CombinedOutput(); err != nil {
		t.Logf("docker rmi %s: %v: %s", ref, err, out)
	}
	kubeImageRefs[bin] = ref
	return ref
}

func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
