// Package finetune tunes a PocketGGUF's continuous parameters (codebooks, row
// scales, norm weights) end to end so that the compressed model's next-token
// distributions match the original's (knowledge distillation, as AQLM and
// QuIP# fine-tune after quantizing). The indices stay as the converter chose
// them, so the file keeps its size and layout byte for byte.
//
// The model's forward and backward pass runs as one ggml graph (ggml*.go over
// bridge.Trainer), PQ weights rebuilt in the graph from their codes; the Go
// pass here, written for the Llama architecture as llama.cpp computes it
// (llm_build_llama), is the reference it is tested against (Options.Engine).
package finetune

import (
	"fmt"
	"math"

	"github.com/pocketgguf/pocketgguf/gguf"
)

// Config is the shape of a Llama model, read from its GGUF keys.
type Config struct {
	Dim, Layers, Heads, KVHeads, FF, Vocab int
	HeadDim, RopeDims                      int
	RopeBase                               float64
	Eps                                    float32
}

// ReadConfig reads a Llama model's hyper-parameters; other architectures are
// refused by name, since the forward pass below is Llama's.
func ReadConfig(g *gguf.File) (Config, error) {
	arch := g.KVString("general.architecture")
	if arch != "llama" {
		return Config{}, fmt.Errorf("%s: architecture %q: fine-tuning supports llama only", g.Path, arch)
	}
	u := func(key string, def int) (int, error) {
		v, ok := g.KV("llama." + key)
		if !ok {
			if def >= 0 {
				return def, nil
			}
			return 0, fmt.Errorf("%s: key llama.%s missing", g.Path, key)
		}
		x, isInt := v.Uint()
		if !isInt || x == 0 || x > 1<<20 {
			return 0, fmt.Errorf("%s: key llama.%s = %v is not a valid size", g.Path, key, v.V)
		}
		return int(x), nil
	}
	var c Config
	var err error
	for _, f := range []struct {
		key string
		dst *int
		def int
	}{{"embedding_length", &c.Dim, -1}, {"block_count", &c.Layers, -1}, {"attention.head_count", &c.Heads, -1},
		{"feed_forward_length", &c.FF, -1}, {"attention.head_count_kv", &c.KVHeads, 0}} {
		if *f.dst, err = u(f.key, f.def); err != nil {
			return c, err
		}
	}
	if c.KVHeads == 0 {
		c.KVHeads = c.Heads
	}
	if c.Dim%c.Heads != 0 || c.Heads%c.KVHeads != 0 {
		return c, fmt.Errorf("%s: %d dims in %d heads with %d kv heads do not divide", g.Path, c.Dim, c.Heads, c.KVHeads)
	}
	c.HeadDim = c.Dim / c.Heads
	if c.RopeDims, err = u("rope.dimension_count", c.HeadDim); err != nil {
		return c, err
	}
	if c.RopeDims > c.HeadDim || c.RopeDims%2 != 0 {
		return c, fmt.Errorf("%s: llama.rope.dimension_count %d for head size %d", g.Path, c.RopeDims, c.HeadDim)
	}
	c.RopeBase = 10000
	if v, ok := g.KV("llama.rope.freq_base"); ok {
		if x, ok := v.Float(); ok && x > 0 {
			c.RopeBase = x
		}
	}
	c.Eps = 1e-5
	if v, ok := g.KV("llama.attention.layer_norm_rms_epsilon"); ok {
		if x, ok := v.Float(); ok && x > 0 {
			c.Eps = float32(x)
		}
	}
	if v, ok := g.KV("llama.rope.scaling.type"); ok {
		if s, _ := v.Str(); s != "" && s != "none" {
			return c, fmt.Errorf("%s: rope scaling %q is not supported by fine-tuning", g.Path, s)
		}
	}
	t, ok := g.Tensor("token_embd.weight")
	if !ok || len(t.Shape) != 2 || int(t.Shape[0]) != c.Dim {
		return c, fmt.Errorf("%s: token_embd.weight missing or not [%d, vocab]", g.Path, c.Dim)
	}
	c.Vocab = int(t.Shape[1])
	return c, nil
}

// Layer holds one block's weights, each matrix row-major [out][in] as ggml stores it.
type Layer struct {
	AttnNorm, FFNNorm          []float32
	Q, K, V, O, Gate, Up, Down []float32
}

// Weights is a whole model; Output aliases Embd when the head is tied.
type Weights struct {
	Embd    []float32 // Vocab x Dim
	Layers  []Layer
	OutNorm []float32
	Output  []float32 // Vocab x Dim
}

// NewWeights allocates zeroed weights (or gradients) of c's shape.
func NewWeights(c Config, tied bool) *Weights {
	kv := c.KVHeads * c.HeadDim
	w := &Weights{Embd: make([]float32, c.Vocab*c.Dim), OutNorm: make([]float32, c.Dim), Layers: make([]Layer, c.Layers)}
	for l := range w.Layers {
		w.Layers[l] = Layer{
			AttnNorm: make([]float32, c.Dim), FFNNorm: make([]float32, c.Dim),
			Q: make([]float32, c.Dim*c.Dim), K: make([]float32, kv*c.Dim), V: make([]float32, kv*c.Dim),
			O: make([]float32, c.Dim*c.Dim), Gate: make([]float32, c.FF*c.Dim), Up: make([]float32, c.FF*c.Dim),
			Down: make([]float32, c.Dim*c.FF),
		}
	}
	if tied {
		w.Output = w.Embd
	} else {
		w.Output = make([]float32, c.Vocab*c.Dim)
	}
	return w
}

// Tied reports whether the output head is the token embedding itself.
func (w *Weights) Tied() bool { return &w.Output[0] == &w.Embd[0] }

// Named maps llama.cpp tensor names to the slices that hold them.
func (w *Weights) Named() map[string][]float32 {
	m := map[string][]float32{"token_embd.weight": w.Embd, "output_norm.weight": w.OutNorm, "output.weight": w.Output}
	for l := range w.Layers {
		L := &w.Layers[l]
		p := fmt.Sprintf("blk.%d.", l)
		for n, s := range map[string][]float32{"attn_norm": L.AttnNorm, "ffn_norm": L.FFNNorm, "attn_q": L.Q, "attn_k": L.K,
			"attn_v": L.V, "attn_output": L.O, "ffn_gate": L.Gate, "ffn_up": L.Up, "ffn_down": L.Down} {
			m[p+n+".weight"] = s
		}
	}
	return m
}

// weightSizes maps each tensor name of a Llama model of shape c to its
// number of values, as NewWeights(c, tied).Named() holds them (with tied,
// output.weight is the embedding and is not listed).
func weightSizes(c Config, tied bool) map[string]int {
	kv := c.KVHeads * c.HeadDim
	m := map[string]int{"token_embd.weight": c.Vocab * c.Dim, "output_norm.weight": c.Dim}
	if !tied {
		m["output.weight"] = c.Vocab * c.Dim
	}
	for l := 0; l < c.Layers; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		for n, size := range map[string]int{"attn_norm": c.Dim, "ffn_norm": c.Dim, "attn_q": c.Dim * c.Dim, "attn_k": kv * c.Dim,
			"attn_v": kv * c.Dim, "attn_output": c.Dim * c.Dim, "ffn_gate": c.FF * c.Dim, "ffn_up": c.FF * c.Dim, "ffn_down": c.Dim * c.FF} {
			m[p+n+".weight"] = size
		}
	}
	return m
}

// lookTensor finds the tensor name of g and checks that it holds size
// values; ok is false (and err nil) for a tied output head, which g need not have.
func lookTensor(g *gguf.File, name string, size int, tied bool) (t *gguf.TensorInfo, ok bool, err error) {
	t, ok = g.Tensor(name)
	if !ok {
		if name == "output.weight" && tied {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("%s: tensor %q missing", g.Path, name)
	}
	if int(t.Elements()) != size {
		return nil, false, fmt.Errorf("%s: tensor %q has %d values, want %d", g.Path, name, t.Elements(), size)
	}
	return t, true, nil
}

// checkTensors checks, without reading, what Weights.Load would read: every
// tensor of sizes (but those skip names) is in g with its size, in a type
// ReadTensorF32 converts.
func checkTensors(g *gguf.File, sizes map[string]int, tied bool, skip func(name string) bool) error {
	for _, n := range sortedKeys(sizes) {
		if skip != nil && skip(n) {
			continue
		}
		t, ok, err := lookTensor(g, n, sizes[n], tied)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if _, err := gguf.ToFloat32(t.Type, nil, 0); err != nil { // no data: only the type is checked
			return fmt.Errorf("%s: tensor %q: %w", g.Path, n, err)
		}
	}
	return nil
}

// Load reads the tensors of w from g as float32, checking shapes; those
// skip names (PQ tensors, rebuilt from their tables) are left alone.
func (w *Weights) Load(g *gguf.File, skip func(name string) bool) error {
	for name, dst := range w.Named() {
		if skip != nil && skip(name) {
			continue
		}
		t, ok, err := lookTensor(g, name, len(dst), w.Tied())
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		x, err := g.ReadTensorF32(t)
		if err != nil {
			return fmt.Errorf("%s: tensor %q: %w", g.Path, name, err)
		}
		copy(dst, x)
	}
	return nil
}

// HasOutput reports whether g has its own output head (else it is tied to the embedding).
func HasOutput(g *gguf.File) bool { _, ok := g.Tensor("output.weight"); return ok }

// ropeTables are cos/sin of each position and rotated pair, as ggml's
// rope (mode 0: adjacent pairs) computes theta = pos * base^(-2i/dims).
func ropeTables(c Config, n int) (cos, sin []float32) {
	half := c.RopeDims / 2
	cos, sin = make([]float32, n*half), make([]float32, n*half)
	scale := math.Pow(c.RopeBase, -2.0/float64(c.RopeDims))
	for p := 0; p < n; p++ {
		theta := float64(p)
		for i := 0; i < half; i++ {
			cos[p*half+i], sin[p*half+i] = float32(math.Cos(theta)), float32(math.Sin(theta))
			theta *= scale
		}
	}
	return cos, sin
}
