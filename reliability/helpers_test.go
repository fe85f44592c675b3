package reliability

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/pocketgguf/pocketgguf/testmodels"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// pocketgguf builds the command once per test binary run.
func pocketgguf(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the pocketgguf binary")
	}
	binOnce.Do(func() {
		_, here, _, _ := runtime.Caller(0)
		root := filepath.Dir(filepath.Dir(here))
		binDir, binErr = osMkdirTemp()
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "pocketgguf")
		out, err := exec.Command("go", "build", "-o", binPath, filepath.Join(root, "cli")).CombinedOutput()
		if err != nil {
			binErr = &buildError{err, string(out)}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// generate writes a testmodels preset into a fresh temporary folder.
func generate(t *testing.T, preset string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), preset+".gguf")
	if err := testmodels.Generate(p, testmodels.Presets[preset]); err != nil {
		t.Fatal(err)
	}
	return p
}
