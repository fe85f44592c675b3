package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketgguf/pocketgguf/eval"
	"github.com/pocketgguf/pocketgguf/gguf"
)

func sharedFile(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join("..", "..", "shared", "testdata", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("test data %s absent: %v", rel, err)
	}
	return p
}

// baseline BASE --types (flags after the model, as llama-quantize), then
// eval of the base against itself and that file in one run, as JSON.
func TestBaselineThenEvalJSON(t *testing.T) {
	model := sharedFile(t, "models/stories260K.gguf")
	text := sharedFile(t, "text/tinystories_val_a.txt")
	dir := t.TempDir()
	out, err := runCLI(t, "baseline", model, "--types", "q6_k", "--out-dir", dir, "--threads", "1", "-q")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "q8_0×32") || !strings.Contains(out, "f16×5") {
		t.Errorf("baseline table does not show the types llama.cpp used:\n%s", out)
	}
	q6 := filepath.Join(dir, "stories260K-Q6_K.gguf")
	out, err = runCLI(t, "eval", "--base", model, "--model", model, "--model", q6, "--text", text,
		"--chunks", "3", "--threads", "1", "--json", "-q")
	if err != nil {
		t.Fatal(err)
	}
	var res eval.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("eval --json: %v\n%s", err, out)
	}
	if len(res.Models) != 2 || res.Chunks != 3 || res.PerChunk != 127 || res.NCtx != 256 {
		t.Fatalf("result shape: %d models, %d chunks × %d, n_ctx %d", len(res.Models), res.Chunks, res.PerChunk, res.NCtx)
	}
	self, q := res.Models[0].Stats, res.Models[1].Stats
	if math.Abs(self.KLD.Val) > 1e-6 || self.SameTop.Val != 1 {
		t.Errorf("self: KLD %g, same top %g", self.KLD.Val, self.SameTop.Val)
	}
	if q.KLD.Val <= 1e-5 || q.KLD.Val > 0.05 || q.PPLBase != self.PPLBase {
		t.Errorf("Q6_K mix: KLD %g, base PPL %v vs %v", q.KLD.Val, q.PPLBase, self.PPLBase)
	}
	if b := res.Models[1].File.BPW(); math.Abs(b-10.36) > 0.01 {
		t.Errorf("Q6_K mix bpw %.3f", b)
	}
	if _, err := runCLI(t, "eval", "--base", model, "--model", filepath.Join(dir, "missing.gguf"), "--text", text, "--chunks", "2", "-q"); err == nil || !strings.Contains(err.Error(), "missing.gguf") {
		t.Errorf("missing model: %v", err)
	}
	// A GGUF that is no model: refused before the base pass, naming it.
	bad := filepath.Join(dir, "notamodel.gguf")
	if err := writeTensorOnly(bad); err != nil {
		t.Fatal(err)
	}
	_, err = runCLI(t, "eval", "--base", model, "--model", model, "--model", bad, "--text", text, "--threads", "1")
	if err == nil || !strings.Contains(err.Error(), "--model "+bad) {
		t.Errorf("a GGUF libllama does not load: %v", err)
	}
	// A truncated model: our reader names the field that runs past the end.
	b, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.gguf")
	if err := os.WriteFile(cut, b[:3000], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = runCLI(t, "eval", "--base", model, "--model", cut, "--text", text, "--threads", "1")
	if err == nil || !strings.Contains(err.Error(), "--model "+cut) || !strings.Contains(err.Error(), "runs past the end of the file") {
		t.Errorf("a truncated GGUF: %v", err)
	}
}

// writeTensorOnly writes a valid GGUF with one f32 tensor and no model keys.
func writeTensorOnly(path string) error {
	f, err := gguf.CreateAtomic(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	w, err := gguf.NewWriter(f, nil, []gguf.TensorInfo{{Name: "x", Shape: []uint64{4}, Type: gguf.TypeF32}})
	if err != nil {
		return err
	}
	if err := w.WriteTensor(0, make([]byte, 16)); err != nil {
		return err
	}
	if err := w.Finish(nil); err != nil {
		return err
	}
	return f.Commit()
}
