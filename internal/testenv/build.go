package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildPath string
	buildErr  error
	buildLog  []byte
)

// BuildFaultline builds the static faultline binary (CGO_ENABLED=0) once per
// test process and returns its path. Packages that call it should call
// RemoveBuilds from TestMain after m.Run.
func BuildFaultline(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "faultline-testbin-")
		if buildErr != nil {
			return
		}
		buildPath = filepath.Join(buildDir, "faultline")
		cmd := exec.Command("go", "build", "-trimpath", "-o", buildPath, "github.com/faultline-dev/faultline/cmd/faultline")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		buildLog, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("build faultline: %v\n%s", buildErr, buildLog)
	}
	return buildPath
}

// RemoveBuilds deletes what BuildFaultline built.
func RemoveBuilds() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}
