package testmodels

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/pocketgguf/pocketgguf/gguf"
)

func TestTinyIsCompleteAndDeterministic(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.gguf"), filepath.Join(dir, "b.gguf")
	for _, p := range []string{a, b} {
		if err := Generate(p, Presets["tiny"]); err != nil {
			t.Fatal(err)
		}
	}
	ba, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if !bytes.Equal(ba, bb) {
		t.Fatal("same seed gave different files")
	}
	g, err := gguf.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	for _, k := range []string{"llama.context_length", "llama.embedding_length", "llama.block_count", "llama.feed_forward_length",
		"llama.attention.head_count", "llama.attention.head_count_kv", "llama.rope.dimension_count",
		"llama.attention.layer_norm_rms_epsilon", "tokenizer.ggml.model", "tokenizer.ggml.tokens",
		"tokenizer.ggml.scores", "tokenizer.ggml.token_type", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"} {
		if _, ok := g.KV(k); !ok {
			t.Errorf("missing key %s", k)
		}
	}
	if len(g.Tensors) != 3+9*2 {
		t.Fatalf("%d tensors", len(g.Tensors))
	}
	x, err := g.ReadTensorF32(&g.Tensors[3]) // blk.0.attn_q.weight
	if err != nil {
		t.Fatal(err)
	}
	// Heavy tails: excess kurtosis well above a Gaussian's 0.
	var m2, m4 float64
	for _, v := range x {
		m2 += float64(v) * float64(v)
		m4 += float64(v) * float64(v) * float64(v) * float64(v)
	}
	n := float64(len(x))
	if k := (m4 / n) / ((m2 / n) * (m2 / n)); k < 4 {
		t.Fatalf("kurtosis %.2f: weights not heavy-tailed", k)
	}
}

func TestRealVocabCopied(t *testing.T) {
	v := SharedVocab()
	if v == "" {
		t.Skip("../shared/testdata/vocab not present")
	}
	cfg := Presets["tiny"]
	cfg.VocabFile = v
	p := filepath.Join(t.TempDir(), "m.gguf")
	if err := Generate(p, cfg); err != nil {
		t.Fatal(err)
	}
	g, err := gguf.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	emb, _ := g.Tensor("token_embd.weight")
	if emb.Shape[1] != 32000 {
		t.Fatalf("embedding rows %d, want 32000", emb.Shape[1])
	}
}
