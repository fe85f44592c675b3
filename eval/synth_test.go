package eval

import (
	"math"
	"math/rand/v2"
)

// synth is a LogitSource with deterministic pseudo-random logits that
// depend on the current and previous token, so that positions differ and a
// second source with noise differs from the first in a controlled way.
type synth struct {
	nv      int
	noise   float64 // std-dev of the perturbation added to every logit
	scale   float64 // spread of the clean logits
	calls   [][]int32
	corrupt bool // return a NaN logit
}

func (s *synth) Tokenize(text string) ([]int32, error) {
	t := []int32{1}
	for _, b := range []byte(text) {
		t = append(t, int32(b)%int32(s.nv))
	}
	return t, nil
}
func (s *synth) NVocab() int  { return s.nv }
func (s *synth) AddBOS() bool { return true }
func (s *synth) BOS() int32   { return 1 }

func (s *synth) Logits(tokens []int32, first int) ([]float32, error) {
	s.calls = append(s.calls, append([]int32(nil), tokens...))
	out := make([]float32, 0, (len(tokens)-first)*s.nv)
	for p := first; p < len(tokens); p++ {
		prev := int32(0)
		if p > 0 {
			prev = tokens[p-1]
		}
		clean := rand.New(rand.NewPCG(uint64(tokens[p]), uint64(prev)))
		noisy := rand.New(rand.NewPCG(uint64(tokens[p])+1000, uint64(p)))
		for i := 0; i < s.nv; i++ {
			v := s.scale*clean.NormFloat64() + s.noise*noisy.NormFloat64()
			out = append(out, float32(v))
		}
	}
	if s.corrupt {
		out[len(out)/2] = float32(math.NaN())
	}
	return out, nil
}

// text of n pseudo-random bytes.
func synthText(n int) string {
	r := rand.New(rand.NewPCG(7, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + r.IntN(26))
	}
	return string(b)
}
