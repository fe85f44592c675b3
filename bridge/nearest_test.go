package bridge

import (
	"math"
	"math/rand/v2"
	"testing"
)

// nearestGo is finetune's index step as it was written in Go: the oracle.
func nearestGo(lut []float32, v int, ids []uint32, shadow []float32, rows, cols int, scales []float32, idx []uint32) {
	per, K := cols/v, len(lut)/v
	if ids != nil {
		K = len(ids)
	}
	x := make([]float32, v)
	for r := 0; r < rows; r++ {
		s := float32(1)
		if scales != nil {
			s = scales[r]
		}
		if s == 0 {
			continue
		}
		for j := 0; j < per; j++ {
			src := shadow[r*cols+j*v : r*cols+j*v+v]
			for k := range x {
				x[k] = src[k] / s
			}
			best, bestD := uint32(0), float32(math.Inf(1))
			for k := 0; k < K; k++ {
				id := uint32(k)
				if ids != nil {
					id = ids[k]
				}
				e := lut[int(id)*v : int(id)*v+v]
				var d float32
				for i, xi := range x {
					dd := xi - e[i]
					d += dd * dd
				}
				if d < bestD {
					best, bestD = id, d
				}
			}
			idx[r*per+j] = best
		}
	}
}

// The C index step chooses exactly what the Go loop chooses: plain and
// additive (candidate subsets) tables, entry counts that are not multiples
// of 8, duplicated entries (ties), zero and negative row scales, and
// non-finite weights.
func TestNearestMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct{ v, k, sub, rows, cols int }{
		{4, 256, 0, 37, 64}, {8, 256, 0, 9, 64}, {4, 4096, 1000, 5, 32}, {8, 4096, 3000, 3, 64}, {8, 13, 0, 11, 40}, {4, 3, 0, 4, 8}, {2, 9, 5, 6, 10},
	} {
		lut := make([]float32, c.k*c.v)
		for i := range lut {
			lut[i] = float32(rng.NormFloat64())
		}
		// coarse values make exact ties between distances common
		for i := 0; i < len(lut)/4; i++ {
			lut[i] = float32(rng.IntN(3))
		}
		copy(lut[c.v:2*c.v], lut[:c.v]) // entries 0 and 1 equal
		var ids []uint32
		if c.sub > 0 {
			for _, p := range rng.Perm(c.k)[:c.sub] {
				ids = append(ids, uint32(p))
			}
			// in index order, as the additive tables list them
			for i := 1; i < len(ids); i++ {
				for j := i; j > 0 && ids[j] < ids[j-1]; j-- {
					ids[j], ids[j-1] = ids[j-1], ids[j]
				}
			}
		}
		shadow := make([]float32, c.rows*c.cols)
		for i := range shadow {
			shadow[i] = float32(rng.NormFloat64())
			if i%5 == 0 {
				shadow[i] = float32(rng.IntN(3))
			}
		}
		shadow[0], shadow[c.v] = float32(math.NaN()), float32(math.Inf(1))
		scales := make([]float32, c.rows)
		for i := range scales {
			scales[i] = float32(0.5 + rng.Float64())
		}
		scales[1], scales[2] = 0, -0.75
		for _, sc := range [][]float32{scales, nil} {
			for _, simd := range []bool{true, false} {
				setNearestSIMD(simd)
				want, got := make([]uint32, c.rows*c.cols/c.v), make([]uint32, c.rows*c.cols/c.v)
				for i := range want {
					want[i], got[i] = uint32(i%7), uint32(i%7) // rows with scale 0 keep these
				}
				nearestGo(lut, c.v, ids, shadow, c.rows, c.cols, sc, want)
				if err := Nearest(lut, c.v, ids, shadow, c.rows, c.cols, sc, got); err != nil {
					t.Fatal(err)
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("v=%d K=%d candidates=%d scales=%v simd=%v: sub-vector %d: C chose %d, Go %d", c.v, c.k, len(ids), sc != nil, simd, i, got[i], want[i])
					}
				}
			}
		}
	}
	setNearestSIMD(true)
	if err := Nearest(make([]float32, 16), 4, []uint32{4}, make([]float32, 8), 1, 8, nil, make([]uint32, 2)); err == nil {
		t.Error("a candidate outside the LUT was accepted")
	}
}

func BenchmarkNearestAdditive4x12(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	const v, k, rows, cols = 4, 4096, 64, 256
	lut := make([]float32, k*v)
	for i := range lut {
		lut[i] = float32(rng.NormFloat64())
	}
	shadow := make([]float32, rows*cols)
	for i := range shadow {
		shadow[i] = float32(rng.NormFloat64())
	}
	idx := make([]uint32, rows*cols/v)
	b.Run("c", func(b *testing.B) {
		for b.Loop() {
			Nearest(lut, v, nil, shadow, rows, cols, nil, idx)
		}
	})
	b.Run("go", func(b *testing.B) {
		for b.Loop() {
			nearestGo(lut, v, nil, shadow, rows, cols, nil, idx)
		}
	})
}
