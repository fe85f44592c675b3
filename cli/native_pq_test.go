package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPQRunsNativelyLikeUnpackedTwin converts stories260K, then generates
// greedily from the PocketGGUF file through the patched libllama (PQ kernels,
// tables built at load) and from its unpacked F32 twin (stock code paths):
// the texts must be equal. pocket-cli runs the same PQ file, natively and,
// when the aarch64 build exists (POCKET_CROSS=1 scripts/test.sh), under
// qemu-aarch64 with the NEON kernels.
func TestPQRunsNativelyLikeUnpackedTwin(t *testing.T) {
	model := filepath.Join("..", "..", "shared", "testdata", "models", "stories260K.gguf")
	if _, err := os.Stat(model); err != nil {
		t.Skipf("test model absent: %v", err)
	}
	dir := t.TempDir()
	pq := filepath.Join(dir, "s.pq.gguf")
	twin := filepath.Join(dir, "s.f32.gguf")
	// --prefer quality: the plain types, whose kernels rebuild the f32 weights exactly.
	if _, err := runCLI(t, "convert", "--fast", "-q", "--prefer", "quality", "--bpw", "5", "--threads", "1", model, pq); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, "unpack", "-q", "--type", "f32", pq, twin); err != nil {
		t.Fatal(err)
	}
	gen := func(path string) string {
		out, err := runCLI(t, "run", path, "-p", "Once upon a time", "-n", "24", "--temp", "0", "--threads", "1")
		if err != nil {
			t.Fatalf("run %s: %v", path, err)
		}
		return out
	}
	native, unpacked := strings.TrimSpace(gen(pq)), strings.TrimSpace(gen(twin))
	if native != unpacked {
		t.Fatalf("PQ file natively: %q\nits unpacked twin: %q", native, unpacked)
	}
	if !strings.HasPrefix(native, "Once upon a time,") {
		t.Fatalf("PQ text does not continue the prompt: %q", native)
	}

	cli := func(prefix []string, bin string) {
		args := append(prefix, bin, "-m", pq, "-p", "Once upon a time", "-n", "24", "--temp", "0", "-t", "1", "-fa", "off")
		out, err := exec.Command(args[0], args[1:]...).Output()
		if err != nil {
			t.Fatalf("%s: %v", strings.Join(args, " "), err)
		}
		if got := strings.TrimSpace(string(out)); got != native {
			t.Fatalf("%s printed %q, pocketgguf run printed %q", bin, got, native)
		}
	}
	x86 := filepath.Join("..", "build", "native", "bin", "pocket-cli")
	if _, err := os.Stat(x86); err != nil {
		t.Skipf("pocket-cli not built (%v): run the CMake build first (scripts/test.sh does)", err)
	}
	cli(nil, x86)
	arm := filepath.Join("..", "build", "aarch64", "bin", "pocket-cli")
	qemu, qerr := exec.LookPath("qemu-aarch64")
	if _, err := os.Stat(arm); err != nil || qerr != nil {
		t.Logf("aarch64 pocket-cli not checked (build it with POCKET_CROSS=1 scripts/test.sh)")
		return
	}
	cli([]string{qemu, "-L", "/usr/aarch64-linux-gnu"}, arm)
}
