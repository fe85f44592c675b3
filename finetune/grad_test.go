package finetune

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randomModel(c Config, tied bool, seed uint64) *Weights {
	rng := rand.New(rand.NewPCG(seed, 1))
	w := NewWeights(c, tied)
	for name, s := range w.Named() {
		for i := range s {
			if len(name) > 10 && name[len(name)-11:] == "norm.weight" {
				s[i] = 1 + 0.3*float32(rng.NormFloat64())
			} else {
				s[i] = 0.5 * float32(rng.NormFloat64())
			}
		}
	}
	return w
}

func tinyConfig() Config {
	return Config{Dim: 8, Layers: 2, Heads: 4, KVHeads: 2, FF: 12, Vocab: 11, HeadDim: 2, RopeDims: 2, RopeBase: 10000, Eps: 1e-5}
}

// klOf is the loss the gradient is of, in float64 from a fresh forward pass.
func klOf(p *pass, w *Weights, tokens []int32, teacher []float32) float64 {
	p.forward(w, tokens)
	return klGrad(p.logits, teacher, p.T, p.c.Vocab, 1)
}

// TestGradientMatchesFiniteDifferences checks backward against central
// differences of the KL loss for every tensor of a tiny random Llama, with
// GQA, a tied and an untied head.
func TestGradientMatchesFiniteDifferences(t *testing.T) {
	for _, tied := range []bool{false, true} {
		c := tinyConfig()
		c.HeadDim, c.RopeDims = 4, 4
		c.Heads, c.KVHeads = 2, 1
		w := randomModel(c, tied, 7)
		T := 6
		tokens := []int32{1, 5, 3, 10, 0, 5}
		p := newPass(c, T)
		// Teacher: another random model's distributions.
		tw := randomModel(c, tied, 8)
		p.forward(tw, tokens)
		teacher := make([]float32, T*c.Vocab)
		logSoftmax(teacher, p.logits, T, c.Vocab)

		g := NewWeights(c, tied)
		p.forward(w, tokens)
		klGrad(p.logits, teacher, T, c.Vocab, 1)
		p.backward(w, g, tokens)

		rng := rand.New(rand.NewPCG(3, 3))
		grads := g.Named()
		checked := 0
		named := w.Named()
		for _, name := range sortedKeys(named) { // sorted: the same values are checked every run
			s := named[name]
			if tied && name == "output.weight" {
				continue // its gradient is in token_embd's
			}
			for k := 0; k < 6; k++ {
				i := rng.IntN(len(s))
				old := s[i]
				const h = 2e-3
				s[i] = old + h
				up := klOf(p, w, tokens, teacher)
				s[i] = old - h
				down := klOf(p, w, tokens, teacher)
				s[i] = old
				num := (up - down) / (2 * h)
				an := float64(grads[name][i])
				if math.Abs(num-an) > 2e-3+0.03*math.Abs(num) {
					t.Errorf("tied=%v %s[%d]: backward %.6g, finite difference %.6g", tied, name, i, an, num)
				}
				checked++
			}
		}
		if checked < 6*18 {
			t.Fatalf("checked only %d values", checked)
		}
	}
}
