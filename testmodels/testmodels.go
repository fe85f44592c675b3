// Package testmodels generates synthetic Llama-architecture GGUF files for
// tests and benchmarks: complete llama.* keys, a vocabulary llama.cpp loads,
// and weights with heavy tails and a few outlier input channels, like trained
// models, so that compression behaves realistically without a download.
package testmodels

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/gguf"
)

// Config describes a model to generate.
type Config struct {
	Name             string
	Dim, FFN, Layers int
	Heads, HeadsKV   int
	Vocab            int    // tokens in the generated vocabulary (ignored with VocabFile)
	VocabFile        string // GGUF to copy tokenizer.* keys from (e.g. ggml-vocab-llama-spm.gguf)
	Type             format.GGMLType
	Seed             uint64
	ContextLength    int
}

// Presets are the named shapes: tiny for fast tests, llama7b-2l for benchmarks
// (Llama-2-7B layer shapes, two layers, the real 32000-token vocabulary).
var Presets = map[string]Config{
	"tiny":       {Name: "tiny", Dim: 64, FFN: 192, Layers: 2, Heads: 4, HeadsKV: 2, Vocab: 320, Type: gguf.TypeF32, Seed: 1, ContextLength: 256},
	"small":      {Name: "small", Dim: 256, FFN: 768, Layers: 4, Heads: 8, HeadsKV: 4, Vocab: 1024, Type: gguf.TypeF16, Seed: 1, ContextLength: 512},
	"llama7b-2l": {Name: "llama7b-2l", Dim: 4096, FFN: 11008, Layers: 2, Heads: 32, HeadsKV: 32, Vocab: 32000, Type: gguf.TypeF16, Seed: 1, ContextLength: 4096},
}

// Generate writes the model described by cfg to path (atomically).
func Generate(path string, cfg Config) error {
	if cfg.Dim%cfg.Heads != 0 || cfg.Heads%cfg.HeadsKV != 0 || cfg.Dim%32 != 0 {
		return fmt.Errorf("testmodels: dim %d, heads %d, kv heads %d: dim must divide by heads and 32, heads by kv heads", cfg.Dim, cfg.Heads, cfg.HeadsKV)
	}
	var vocab []gguf.KV
	nVocab := cfg.Vocab
	if cfg.VocabFile != "" {
		v, n, err := copyVocab(cfg.VocabFile)
		if err != nil {
			return err
		}
		vocab, nVocab = v, n
	} else {
		vocab = spmVocab(cfg.Vocab)
		nVocab = len(spmTokens(cfg.Vocab))
	}
	// llama_ftype of an all-one-type model (LLAMA_FTYPE_ALL_F32, MOSTLY_F16, MOSTLY_Q8_0, MOSTLY_BF16).
	ftype, ok := map[format.GGMLType]uint32{gguf.TypeF32: 0, gguf.TypeF16: 1, gguf.TypeQ8_0: 7, gguf.TypeBF16: 32}[cfg.Type]
	if !ok {
		return fmt.Errorf("testmodels: weight type %s (want f32, f16, bf16 or q8_0)", gguf.TypeName(cfg.Type))
	}
	kvs := []gguf.KV{
		{Key: "general.architecture", Value: gguf.Str("llama")},
		{Key: "general.name", Value: gguf.Str("pocketgguf-testmodel-" + cfg.Name)},
		{Key: "general.file_type", Value: gguf.U32(ftype)},
		{Key: "llama.context_length", Value: gguf.U32(uint32(cfg.ContextLength))},
		{Key: "llama.embedding_length", Value: gguf.U32(uint32(cfg.Dim))},
		{Key: "llama.block_count", Value: gguf.U32(uint32(cfg.Layers))},
		{Key: "llama.feed_forward_length", Value: gguf.U32(uint32(cfg.FFN))},
		{Key: "llama.attention.head_count", Value: gguf.U32(uint32(cfg.Heads))},
		{Key: "llama.attention.head_count_kv", Value: gguf.U32(uint32(cfg.HeadsKV))},
		{Key: "llama.rope.dimension_count", Value: gguf.U32(uint32(cfg.Dim / cfg.Heads))},
		{Key: "llama.attention.layer_norm_rms_epsilon", Value: gguf.F32(1e-5)},
		{Key: "llama.vocab_size", Value: gguf.U32(uint32(nVocab))},
	}
	kvs = append(kvs, vocab...)

	kvDim := cfg.Dim / cfg.Heads * cfg.HeadsKV
	type spec struct {
		name  string
		shape []uint64
		norm  bool
	}
	d, f, v := uint64(cfg.Dim), uint64(cfg.FFN), uint64(nVocab)
	specs := []spec{{"token_embd.weight", []uint64{d, v}, false}, {"output_norm.weight", []uint64{d}, true}, {"output.weight", []uint64{d, v}, false}}
	for l := 0; l < cfg.Layers; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		specs = append(specs,
			spec{p + "attn_q.weight", []uint64{d, d}, false},
			spec{p + "attn_k.weight", []uint64{d, uint64(kvDim)}, false},
			spec{p + "attn_v.weight", []uint64{d, uint64(kvDim)}, false},
			spec{p + "attn_output.weight", []uint64{d, d}, false},
			spec{p + "attn_norm.weight", []uint64{d}, true},
			spec{p + "ffn_gate.weight", []uint64{d, f}, false},
			spec{p + "ffn_down.weight", []uint64{f, d}, false},
			spec{p + "ffn_up.weight", []uint64{d, f}, false},
			spec{p + "ffn_norm.weight", []uint64{d}, true})
	}
	infos := make([]gguf.TensorInfo, len(specs))
	for i, s := range specs {
		ty := cfg.Type
		if s.norm {
			ty = gguf.TypeF32 // llama.cpp keeps norms in F32
		}
		infos[i] = gguf.TensorInfo{Name: s.name, Shape: s.shape, Type: ty}
	}
	out, err := gguf.CreateAtomic(path)
	if err != nil {
		return err
	}
	defer out.Abort()
	w, err := gguf.NewWriter(out, kvs, infos)
	if err != nil {
		return err
	}
	for i, s := range specs {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(i)))
		var x []float32
		if s.norm {
			x = normWeights(rng, int(s.shape[0]))
		} else {
			x = heavyTailed(rng, int(s.shape[0]), int(s.shape[1]))
		}
		data, err := gguf.FromFloat32(infos[i].Type, x)
		if err != nil {
			return err
		}
		if err := w.WriteTensor(i, data); err != nil {
			return err
		}
	}
	if err := w.Finish(kvs); err != nil {
		return err
	}
	return out.Commit()
}

// heavyTailed draws Student-t(4) weights scaled like an initialised layer,
// with ~0.5% of input channels (columns) amplified 6x: the outlier features
// real LLM weights show.
func heavyTailed(rng *rand.Rand, cols, rows int) []float32 {
	scale := 0.5 / math.Sqrt(float64(cols))
	gain := make([]float64, cols)
	for j := range gain {
		gain[j] = 1
		if rng.Float64() < 0.005 {
			gain[j] = 6
		}
	}
	x := make([]float32, cols*rows)
	for i := range x {
		x[i] = float32(studentT4(rng) * scale * gain[i%cols])
	}
	return x
}

// studentT4 samples Student's t with 4 degrees of freedom, normalised to unit variance.
func studentT4(rng *rand.Rand) float64 {
	z := rng.NormFloat64()
	var chi2 float64
	for k := 0; k < 4; k++ {
		g := rng.NormFloat64()
		chi2 += g * g
	}
	return z / math.Sqrt(chi2/4) / math.Sqrt2
}

func normWeights(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(1 + 0.1*rng.NormFloat64())
	}
	return x
}

// copyVocab returns the tokenizer.* keys of a vocabulary GGUF and its token count.
func copyVocab(path string) ([]gguf.KV, int, error) {
	g, err := gguf.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer g.Close()
	var kvs []gguf.KV
	n := 0
	for _, kv := range g.KVs {
		if len(kv.Key) > 10 && kv.Key[:10] == "tokenizer." {
			kvs = append(kvs, kv)
			if kv.Key == "tokenizer.ggml.tokens" {
				a, _ := kv.Value.Arr()
				n = a.Len()
			}
		}
	}
	if n == 0 {
		return nil, 0, fmt.Errorf("%s: no tokenizer.ggml.tokens", path)
	}
	return kvs, n, nil
}
