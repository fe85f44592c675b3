//go:build unix

package gguf

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestCreateAtomicRemovesDeadProcessTemps: a temporary output left by a
// process that no longer exists is removed by the next CreateAtomic for the
// same target; one of a live process, one for another target and one
// without a PID in its name are kept.
func TestCreateAtomicRemovesDeadProcessTemps(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skipf("cannot run true: %v", err)
	}
	live := exec.Command("sleep", "60")
	if err := live.Start(); err != nil {
		t.Skipf("cannot run sleep: %v", err)
	}
	t.Cleanup(func() { live.Process.Kill(); live.Wait() })

	dir := t.TempDir()
	target := filepath.Join(dir, "out.gguf")
	names := map[string]bool{ // name -> must survive
		fmt.Sprintf(".out.gguf.tmp-%d-123", dead.Process.Pid):   false,
		fmt.Sprintf(".out.gguf.tmp-%d-456", live.Process.Pid):   true,
		fmt.Sprintf(".other.gguf.tmp-%d-789", dead.Process.Pid): true,
		".out.gguf.tmp-2818363540":                              true, // old format: no PID
		fmt.Sprintf("out.gguf.tmp-%d-1", dead.Process.Pid):      true, // not one of ours
	}
	for n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := CreateAtomic(target)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(".out.gguf.tmp-%d-", os.Getpid())
	if base := filepath.Base(f.Name()); len(base) <= len(want) || base[:len(want)] != want {
		t.Fatalf("temporary file %s does not carry this process's PID (%s*)", base, want)
	}
	f.Abort()
	for n, keep := range names {
		_, err := os.Stat(filepath.Join(dir, n))
		if keep && err != nil {
			t.Errorf("%s was removed: %v", n, err)
		}
		if !keep && err == nil {
			t.Errorf("%s (dead process %d) was kept", n, dead.Process.Pid)
		}
	}
}
