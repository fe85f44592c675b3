package quant

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkConvert runs Sample + Train + Assign on a 1024 x 11008 Gaussian
// weight (a quarter of Llama-7B's ffn_up) and reports weights/s. The full
// shape and the projected 7B time are in cmd/pqbench (docs/bench/converter.md).
func BenchmarkConvert(b *testing.B) {
	m := gaussMatrix("bench", 1024, 11008, 1)
	for _, c := range []struct {
		method string
		v, k   int
	}{{MethodKMeans, 4, 256}, {MethodPocketLLM, 4, 256}, {MethodKMeans, 8, 4096}} {
		b.Run(fmt.Sprintf("%s_v%d_k%d", c.method, c.v, c.k), func(b *testing.B) {
			opt := Options{Method: c.method, V: c.v, K: c.k, RowScale: true, Seed: 1}
			for i := 0; i < b.N; i++ {
				_, a := fitTable(b, m, nil, opt, 0)
				b.ReportMetric(a.RelRMSE, "relRMSE")
			}
			b.ReportMetric(float64(len(m.Data))*float64(b.N)/b.Elapsed().Seconds(), "weights/s")
		})
	}
}

// BenchmarkNearest measures one exact search per op on a Gaussian LUT.
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
