package converter

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	ollamaggml "github.com/ollama/ollama/fs/ggml"
	"github.com/pocketgguf/pocketgguf/gguf"
)

// TestUnpackedLoadsInOllamaParser: Ollama's own GGUF decoder (what `ollama
// create` runs) reads the unpacked file with the right architecture, every
// tensor, and sizes that add up to the file.
func TestUnpackedLoadsInOllamaParser(t *testing.T) {
	dir := t.TempDir()
	in := tinyModel(t, dir)
	pq := filepath.Join(dir, "o.pq.gguf")
	convert(t, in, pq, Options{Method: "kmeans", BPW: 3})
	for _, ty := range []string{"f16", "q8_0"} {
		id, _ := gguf.ParseType(ty)
		un := filepath.Join(dir, "u."+ty+".gguf")
		if err := Unpack(context.Background(), pq, un, id, nil); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(un)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ollamaggml.Decode(f, -1)
		f.Close()
		if err != nil {
			t.Fatalf("%s: ollama decode: %v", ty, err)
		}
		if m.KV().Architecture() != "llama" || m.KV().BlockCount() != 2 {
			t.Fatalf("%s: architecture %q, %d blocks", ty, m.KV().Architecture(), m.KV().BlockCount())
		}
		items := m.Tensors().Items()
		if len(items) != 3+9*2 {
			t.Fatalf("%s: ollama sees %d tensors", ty, len(items))
		}
		for _, it := range items {
			if it.Size() == 0 {
				t.Fatalf("%s: tensor %s has size 0 for ollama (unknown type?)", ty, it.Name)
			}
		}
		for k := range m.KV() {
			if len(k) > 7 && k[:7] == "pocket." {
				t.Fatalf("%s: %s left in the unpacked file", ty, k)
			}
		}
		if ft := m.KV().FileType().String(); ft != map[string]string{"f16": "F16", "q8_0": "Q8_0"}[ty] {
			t.Fatalf("%s: file type %s", ty, ft)
		}
	}
}
