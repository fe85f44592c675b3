package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pocketModels makes a PocketGGUF from the F32 model with `pocketgguf convert`
// (pq_2x8 everywhere, fixed seed) and its dense twin with `pocketgguf unpack
// --type f32`, both by the CLI built from this repository. POCKET_E2E_PQ and
// POCKET_E2E_PQ_REF (paths) replace them with files made elsewhere. It also makes a file of the
// fast additive types (--prefer speed) and records the greedy text `pocketgguf run` gives for
// it: Ollama's llama.cpp engine runs the same kernels, so it must begin with the same words;
// and that file's unpacked twin, which it must match with 16-bit activation tables.
func pocketModels(t testing.TB, f32 string) []testModel {
	pq, ref := os.Getenv("POCKET_E2E_PQ"), os.Getenv("POCKET_E2E_PQ_REF")
	root := repoRoot(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "pocketgguf")
	run(t, root, "go", "build", "-o", bin, "./cli")
	if pq == "" || ref == "" {
		pq, ref = filepath.Join(dir, "stories-pq.gguf"), filepath.Join(dir, "stories-pq-unpacked.gguf")
		run(t, dir, bin, "convert", "--fast", "-q", "--prefer", "quality", "--vec-len", "2", "--codebook-bits", "8", "--seed", "1", f32, pq)
		run(t, dir, bin, "unpack", "-q", "--type", "f32", pq, ref)
	}
	pqa, pqaTwin := filepath.Join(dir, "stories-pqa.gguf"), filepath.Join(dir, "stories-pqa-unpacked.gguf")
	run(t, dir, bin, "convert", "--fast", "-q", "--prefer", "speed", "--bpw", "4", "--seed", "1", f32, pqa)
	run(t, dir, bin, "unpack", "-q", "--type", "f32", pqa, pqaTwin)
	// --flash-attn auto: what Ollama v0.17.4's llama.cpp runner resolves to on the CPU
	out, err := exec.Command(bin, "run", pqa, "-p", greedyPrompt, "-n", "24", "--temp", "0", "--threads", "1", "--flash-attn", "auto").Output()
	if err != nil {
		t.Fatalf("pocketgguf run %s: %v", pqa, err)
	}
	pqaText := strings.TrimPrefix(strings.TrimSpace(string(out)), greedyPrompt)
	return []testModel{
		{name: "stories-pqa", path: pqa, quant: "PQ", tensorTypes: []string{"PQA_4X8"}, role: "pqa", nativeGreedy: pqaText, twin: pqaTwin},
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
