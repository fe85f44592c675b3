package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// pocketModels makes a PocketGGUF from the F32 model with `pocketgguf convert`
// (pq_2x8 everywhere, fixed seed) and its dense twin with `pocketgguf unpack
// --type f32`, both by the CLI built from this repository. POCKET_E2E_PQ and
// POCKET_E2E_PQ_REF (paths) replace them with files made elsewhere.
func pocketModels(t testing.TB, f32 string) []testModel {
	pq, ref := os.Getenv("POCKET_E2E_PQ"), os.Getenv("POCKET_E2E_PQ_REF")
	if pq == "" || ref == "" {
		root := repoRoot(t)
		dir := t.TempDir()
		bin := filepath.Join(dir, "pocketgguf")
		run(t, root, "go", "build", "-o", bin, "./cli")
		pq, ref = filepath.Join(dir, "stories-pq.gguf"), filepath.Join(dir, "stories-pq-unpacked.gguf")
		run(t, dir, bin, "convert", "-q", "--vec-len", "2", "--codebook-bits", "8", "--seed", "1", f32, pq)
		run(t, dir, bin, "unpack", "-q", "--type", "f32", pq, ref)
	}
	return []testModel{
		// pq_2x8 (4 bits per weight) keeps stories260K's greedy story word for word;
		// pq_4x8 (2 bits) does not ("little little little do Grouous").
		{name: "stories-pq", path: pq, quant: "PQ", tensorTypes: []string{"PQ_2X8"}, exact: true, role: "pq"},
		// The dense twin's general.file_type is unpack's business (Ollama shows
		// "unknown" for 0, ALL_F32); what matters is that it holds no PQ tensor.
		{name: "stories-pq-unpacked", path: ref, quant: "", tensorTypes: []string{"F32"}, exact: true, role: "ref"},
	}
}

func run(t testing.TB, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, tail(out, 4<<10))
	}
}
