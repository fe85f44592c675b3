package finetune

import "testing"

// BenchmarkStep is one forward and backward pass of a stories260K-shaped
// model (dim 64, 5 layers, 8 heads, 4 kv heads, ffn 172, vocab 512) over 256
// tokens: `go test ./finetune -run X -bench Step`. Tokens/s = 256 / (ns/op·1e-9).
func BenchmarkStep(b *testing.B) {
	c := Config{Dim: 64, Layers: 5, Heads: 8, KVHeads: 4, FF: 172, Vocab: 512, HeadDim: 8, RopeDims: 8, RopeBase: 10000, Eps: 1e-5}
	w := randomModel(c, false, 1)
	g := NewWeights(c, false)
	tokens := make([]int32, 256)
	for i := range tokens {
		tokens[i] = int32(i * 7 % c.Vocab)
	}
	teacher := make([]float32, len(tokens)*c.Vocab)
	p := newPass(c, len(tokens))
	p.forward(w, tokens)
	logSoftmax(teacher, p.logits, len(tokens), c.Vocab)
	b.ResetTimer()
	for range b.N {
		p.forward(w, tokens)
		klGrad(p.logits, teacher, len(tokens), c.Vocab, 1)
		p.backward(w, g, tokens)
	}
	b.ReportMetric(float64(len(tokens)*b.N)/b.Elapsed().Seconds(), "tokens/s")
}
