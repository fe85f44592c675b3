package quant

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/pocketgguf/pocketgguf/format"
)

// The hand-written backward pass must match finite differences of the
// forward pass, and the forward pass must match format.BuildLUT.
func TestDecoderGradientsMatchFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	tb := &format.Table{V: 4, K: 1, Latent: 4, Blocks: 2, Hidden: 5}
	tb.Decoder = make([]float32, tb.DecoderLen())
	for i := range tb.Decoder {
		tb.Decoder[i] = float32(rng.NormFloat64() * 0.5)
	}
	tb.Codebook = []float32{0.3, -1.2, 0.7, 0.1}
	n := netOf(tb)
	tp := n.newTape()
	out := make([]float32, 4)
	n.forward(tb.Decoder, tb.Codebook, out, tp)
	lut := tb.BuildLUT(1)
	for i := range out {
		if out[i] != lut[i] {
			t.Fatalf("forward %v != BuildLUT %v", out, lut[:4])
		}
	}
	// loss = Σ c_i out_i with fixed c
	c := []float32{1, -2, 0.5, 3}
	gp := make([]float32, len(tb.Decoder))
	gc := make([]float32, 4)
	n.backward(tb.Decoder, gp, c, gc, tp)
	loss := func(p, code []float32) float64 {
		o := make([]float32, 4)
		n.forward(p, code, o, n.newTape())
		var s float64
		for i := range o {
			s += float64(c[i] * o[i])
		}
		return s
	}
	const eps = 1e-2
	check := func(what string, xs []float32, g []float32) {
		for i := range xs {
			old := xs[i]
			xs[i] = old + eps
			lp := loss(tb.Decoder, tb.Codebook)
			xs[i] = old - eps
			lm := loss(tb.Decoder, tb.Codebook)
			xs[i] = old
			num := (lp - lm) / (2 * eps)
			if math.Abs(num-float64(g[i])) > 2e-2*math.Max(1, math.Abs(num)) {
				t.Errorf("%s[%d]: backward %v, finite difference %v", what, i, g[i], num)
			}
		}
	}
	check("param", tb.Decoder, gp)
	check("code", tb.Codebook, gc)
}
