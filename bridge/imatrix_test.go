package bridge

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ollama/ollama/fs/gguf"
)

// matmulWeights lists the 2-D weights of a GGUF that a llama graph multiplies
// (all of them but the token embedding, which is a row lookup), with ne0.
func matmulWeights(t *testing.T, path string) map[string]int {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]int{}
	for _, ti := range f.TensorInfos() {
		if len(ti.Shape) == 2 && ti.Name != "token_embd.weight" {
			out[ti.Name] = int(ti.Shape[0])
		}
	}
	return out
}

func calibrationTokens(t *testing.T, m *Model, n int) []Token {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("..", "..", "shared", "testdata", "text", "tinystories_val_a.txt"))
	if err != nil {
		t.Skipf("calibration text absent: %v", err)
	}
	toks, err := m.Tokenize(string(text[:min(len(text), 8*n)]), true, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) < n {
		t.Fatalf("only %d tokens of calibration text", len(toks))
	}
	return toks[:n]
}

func TestCollectImatrix(t *testing.T) {
	m := loadStories(t)
	c := newCtx(t, m, ContextParams{NCtx: 128, NBatch: 64})
	toks := calibrationTokens(t, m, 256)
	im := NewImatrix()
	for _, chunk := range [][]Token{toks[:128], toks[128:]} {
		if err := c.CollectImatrix(chunk, im); err != nil {
			t.Fatal(err)
		}
	}
	want := matmulWeights(t, storiesPath(t))
	if len(im.Skipped) != 0 {
		t.Fatalf("skipped: %v", im.Skipped)
	}
	if got := im.Names(); len(got) != len(want) {
		t.Fatalf("statistics for %d weights %v, want %d", len(got), got, len(want))
	}
	means := im.Means()
	for name, ne0 := range want {
		st := im.Tensors[name]
		if st == nil {
			t.Fatalf("no statistics for %s", name)
		}
		if len(st.SumSq) != ne0 || len(st.Count) != 1 || st.Count[0] != 256 {
			t.Fatalf("%s: %d columns, counts %v; want %d columns, 256 rows", name, len(st.SumSq), st.Count, ne0)
		}
		nonzero := 0
		for _, v := range means[name] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || v < 0 {
				t.Fatalf("%s: mean x² %v", name, v)
			}
			if v > 0 {
				nonzero++
			}
		}
		if nonzero < ne0/2 {
			t.Fatalf("%s: only %d of %d columns nonzero", name, nonzero, ne0)
		}
	}
	// The inputs of q, k and v are the same normalised activations.
	q, k := means["blk.0.attn_q.weight"], means["blk.0.attn_k.weight"]
	for j := range q {
		if q[j] != k[j] {
			t.Fatalf("attn_q and attn_k inputs differ at column %d: %v vs %v", j, q[j], k[j])
		}
	}
	// Collecting does not disturb ordinary use of the context.
	if got := greedy(t, c, 6); !strings.HasPrefix(strings.TrimSpace(got), "Once upon") {
		t.Fatalf("after collecting: %q", got)
	}
}

// Input covariances: only for inputs up to CovMaxCols wide, symmetric,
// positive semi-definite on the diagonal, with the imatrix's means on it.
func TestCollectCovariances(t *testing.T) {
	m := loadStories(t)
	c := newCtx(t, m, ContextParams{NCtx: 128, NBatch: 64})
	im := NewImatrix()
	im.CovMaxCols = 64 // stories260K: 64 wide everywhere but ffn_down (172)
	if err := c.CollectImatrix(calibrationTokens(t, m, 128), im); err != nil {
		t.Fatal(err)
	}
	cov, means := im.Covariances(), im.Means()
	for name, ne0 := range matmulWeights(t, storiesPath(t)) {
		h, ok := cov[name]
		if ne0 > 64 {
			if ok {
				t.Errorf("%s: covariance for a %d-wide input above CovMaxCols", name, ne0)
			}
			continue
		}
		if len(h) != ne0*ne0 {
			t.Fatalf("%s: covariance has %d values, want %d", name, len(h), ne0*ne0)
		}
		for i := 0; i < ne0; i++ {
			if d := h[i*ne0+i]; math.Abs(d-float64(means[name][i])) > 1e-5*math.Max(1, d) {
				t.Fatalf("%s: covariance diagonal %d = %v, imatrix mean %v", name, i, d, means[name][i])
			}
			for j := 0; j < i; j++ {
				if h[i*ne0+j] != h[j*ne0+i] {
					t.Fatalf("%s: not symmetric at %d,%d", name, i, j)
				}
				if h[i*ne0+j]*h[i*ne0+j] > h[i*ne0+i]*h[j*ne0+j]*(1+1e-9) {
					t.Fatalf("%s: |cov %d,%d| exceeds the Cauchy–Schwarz bound", name, i, j)
				}
			}
		}
	}
	// A budget smaller than one covariance gives none.
	im2 := NewImatrix()
	im2.CovMaxCols, im2.CovBudget = 64, 8*64*64-1
	if err := c.CollectImatrix(calibrationTokens(t, m, 64), im2); err != nil {
		t.Fatal(err)
	}
	if n := len(im2.Covariances()); n != 0 {
		t.Fatalf("budget below one covariance: got %d covariances", n)
	}
}

// stories260K's ffn_down has 172 columns, which no 32-wide block divides, so
// llama.cpp refuses Q8_0 for it (llama-quantize does too); Q6_K falls back per
// tensor: Q8_0 where 64 columns allow it, F16 for ffn_down.
func TestQuantize(t *testing.T) {
	in := storiesPath(t)
	dir := t.TempDir()
	err := Quantize(in, filepath.Join(dir, "q8_0.gguf"), "Q8_0", 2)
	if err == nil || !strings.Contains(err.Error(), "not divisible by 32") {
		t.Fatalf("Q8_0 of stories260K: %v; want llama.cpp's refusal for 172 columns", err)
	}
	out := filepath.Join(dir, "q6_k.gguf")
	if err := Quantize(in, out, "Q6_K", 2); err != nil {
		t.Fatal(err)
	}
	types := tensorTypes(t, out)
	if types["blk.0.attn_q.weight"] != "q8_0" || types["blk.0.ffn_down.weight"] != "f16" {
		t.Fatalf("tensor types %v", types)
	}
	m, err := LoadModel(out, ModelParams{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if d := m.Info().Description; !strings.Contains(d, "Q6_K") {
		t.Fatalf("description %q does not say Q6_K", d)
	}
	f32, _ := os.Stat(in)
	q, _ := os.Stat(out)
	if q.Size() >= f32.Size()/2 {
		t.Fatalf("quantized file %d bytes, F32 %d", q.Size(), f32.Size())
	}
	c := newCtx(t, m, ContextParams{NCtx: 64})
	if got := greedy(t, c, 6); !strings.HasPrefix(strings.TrimSpace(got), "Once upon a time") {
		t.Fatalf("quantized greedy: %q", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("files left in %s: %v (want only q6_k.gguf)", dir, entries)
	}
}

func tensorTypes(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	for _, ti := range f.TensorInfos() {
		out[ti.Name] = ti.Type.String()
	}
	return out
}

func TestQuantizeWithImatrix(t *testing.T) {
	m := loadStories(t)
	c := newCtx(t, m, ContextParams{NCtx: 128})
	im := NewImatrix()
	if err := c.CollectImatrix(calibrationTokens(t, m, 128), im); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "iq2.gguf")
	err := QuantizeModel(storiesPath(t), out, QuantizeParams{FType: "IQ2_XXS", Threads: 2})
	if err == nil || !strings.Contains(err.Error(), "importance matrix") {
		t.Fatalf("IQ2_XXS without imatrix: %v", err)
	}
	if err := QuantizeModel(storiesPath(t), out, QuantizeParams{FType: "IQ2_XXS", Threads: 2, Imatrix: im.Means()}); err != nil {
		t.Fatal(err)
	}
	q, err := LoadModel(out, ModelParams{})
	if err != nil {
		t.Fatal(err)
	}
	q.Close()
	bad := im.Means()
	bad["blk.0.ffn_up.weight"][3] = float32(math.NaN())
	if err := QuantizeModel(storiesPath(t), out, QuantizeParams{FType: "Q4_K_M", Imatrix: bad}); err == nil {
		t.Fatal("NaN in imatrix accepted")
	}
}

func TestQuantizeErrors(t *testing.T) {
	in := storiesPath(t)
	dir := t.TempDir()
	if err := Quantize(in, filepath.Join(dir, "x.gguf"), "Q9_9", 1); err == nil || !strings.Contains(err.Error(), "Q9_9") {
		t.Fatalf("unknown ftype: %v", err)
	}
	if err := Quantize(in, in, "Q8_0", 1); err == nil {
		t.Fatal("quantizing onto the input accepted")
	}
	garbage := filepath.Join(dir, "garbage.gguf")
	os.WriteFile(garbage, []byte("not a model"), 0o644)
	if err := Quantize(garbage, filepath.Join(dir, "y.gguf"), "Q8_0", 1); err == nil {
		t.Fatal("garbage input accepted")
	}
	if _, err := os.Stat(filepath.Join(dir, "y.gguf")); !os.IsNotExist(err) {
		t.Fatal("failed quantize left an output file")
	}
	// Pure with rows no block divides would make ggml abort; it must be an error.
	if err := QuantizeModel(in, filepath.Join(dir, "p.gguf"), QuantizeParams{FType: "Q8_0", Pure: true}); err == nil || !strings.Contains(err.Error(), "blk.0.ffn_down.weight") {
		t.Fatalf("pure Q8_0 of 172-wide rows: %v", err)
	}
	for _, n := range FTypeNames() {
		if _, err := ParseFType(strings.ToLower(n)); err != nil {
			t.Fatal(err)
		}
	}
}
