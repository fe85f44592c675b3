package quant

import (
	"math/rand/v2"
	"testing"
)

// The kd-tree must return exactly what brute force returns, including ties
// (duplicate entries, quantised coordinates) and per-query weights.
func TestKDTreeEqualsBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, v := range []int{2, 4, 8} {
		for _, k := range []int{1, 2, 9, 33, 256, 4096, 65536} {
			for _, mode := range []string{"gauss", "grid", "dups"} {
				if k == 65536 && (v != 8 || mode != "gauss") {
					continue // brute force over 65536 entries is slow; one case suffices
				}
				lut := make([]float32, k*v)
				for i := range lut {
					switch mode {
					case "gauss":
						lut[i] = float32(rng.NormFloat64())
					default: // coarse grid: many exact ties
						lut[i] = float32(rng.IntN(5) - 2)
					}
				}
				if mode == "dups" && k > 1 {
					for i := 0; i < k/2; i++ { // second half repeats the first
						copy(lut[(k/2+i)*v:(k/2+i+1)*v], lut[i*v:(i+1)*v])
					}
				}
				tree := newKDTree(lut, k, v)
				var q kdQuery
				nq := 300
				qs, ws := make([]float32, nq*v), make([]float32, nq*v)
				want := make([]int32, nq)
				wantD := make([]float32, nq)
				for i := 0; i < nq; i++ {
					x := make([]float32, v)
					w := make([]float32, v)
					for d := range x {
						if mode == "gauss" {
							x[d] = float32(rng.NormFloat64() * 1.2)
						} else {
							x[d] = float32(rng.IntN(7)-3) / 2
						}
						w[d] = 1
						if i%2 == 1 { // non-uniform importance, some zero
							w[d] = float32(rng.IntN(4)) * float32(rng.Float64()*3)
						}
					}
					if i%3 == 2 { // a query equal to an entry
						copy(x, lut[rng.IntN(k)*v:][:v])
					}
					gi, gd := tree.nearest(&q, x, w)
					bi, bd := bruteNearest(lut, k, v, x, w)
					if gi != bi || gd != bd {
						t.Fatalf("v=%d k=%d %s query %d: kd-tree (%d, %v), brute force (%d, %v)", v, k, mode, i, gi, gd, bi, bd)
					}
					copy(qs[i*v:], x)
					copy(ws[i*v:], w)
					want[i], wantD[i] = int32(bi), bd
				}
				// The batched search (C with AVX2 when cgo is on), cold and
				// warm-started from arbitrary guesses, must agree too.
				idx, dist := make([]int32, nq), make([]float32, nq)
				tree.nearestBatch(qs, ws, nil, nil, idx, dist)
				guess := make([]int32, nq)
				for i := range guess {
					guess[i] = int32(rng.IntN(k))
				}
				gidx, gdist := make([]int32, nq), make([]float32, nq)
				tree.nearestBatch(qs, ws, guess, lut, gidx, gdist)
				for i := range want {
					if idx[i] != want[i] || dist[i] != wantD[i] || gidx[i] != want[i] || gdist[i] != wantD[i] {
						t.Fatalf("v=%d k=%d %s query %d: batch (%d, %v), from guess %d (%d, %v), brute force (%d, %v)",
							v, k, mode, i, idx[i], dist[i], guess[i], gidx[i], gdist[i], want[i], wantD[i])
					}
				}
			}
		}
	}
}
