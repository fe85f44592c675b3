package quant

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkNearest measures one exact search per op on a trained-like LUT
// (LUT = Gaussian samples, queries Gaussian).
func BenchmarkNearest(b *testing.B) {
	for _, c := range []struct{ v, k int }{{4, 256}, {8, 256}, {8, 4096}, {8, 16384}, {8, 65536}} {
		b.Run(fmt.Sprintf("v%d_k%d", c.v, c.k), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			lut := make([]float32, c.k*c.v)
			for i := range lut {
				lut[i] = float32(rng.NormFloat64())
			}
			qs := make([]float32, 1<<16*c.v)
			for i := range qs {
				qs[i] = float32(rng.NormFloat64())
			}
			tree := newKDTree(lut, c.k, c.v)
			w := ones(c.v)
			var q kdQuery
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				j := i & (1<<16 - 1)
				tree.nearest(&q, qs[j*c.v:j*c.v+c.v], w)
			}
		})
	}
}

func BenchmarkBrute(b *testing.B) {
	for _, c := range []struct{ v, k int }{{4, 256}, {8, 256}, {8, 4096}} {
		b.Run(fmt.Sprintf("v%d_k%d", c.v, c.k), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			lut := make([]float32, c.k*c.v)
			for i := range lut {
				lut[i] = float32(rng.NormFloat64())
			}
			qs := make([]float32, 1<<16*c.v)
			for i := range qs {
				qs[i] = float32(rng.NormFloat64())
			}
			w := ones(c.v)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				j := i & (1<<16 - 1)
				bruteNearest(lut, c.k, c.v, qs[j*c.v:j*c.v+c.v], w)
			}
		})
	}
}
