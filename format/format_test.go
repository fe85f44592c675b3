package format

import (
	"math/rand"
	"testing"
)

func TestPackRoundTripEveryType(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, ty := range PQTypes {
		if ty.Additive() { // their layout spans rows: pqa_test.go
			continue
		}
		n := 64 * ty.VectorsPerBlock()
		idx := make([]uint32, n)
		for i := range idx {
			idx[i] = uint32(rng.Intn(ty.MaxK()))
		}
		idx[0], idx[1] = 0, uint32(ty.MaxK()-1)
		buf := make([]byte, ty.RowBytes(n*ty.V))
		PackIndices(ty, idx, buf)
		got := make([]uint32, n)
		UnpackIndices(ty, buf, got)
		for i := range idx {
			if got[i] != idx[i] {
				t.Fatalf("%s: index %d: got %d want %d", ty.Name, i, got[i], idx[i])
			}
		}
	}
}

func TestIdentityDecoderLUTEqualsCodebook(t *testing.T) {
	tb := &Table{V: 4, K: 3, Latent: 4, Codebook: []float32{1, 2, 3, 4, -1, 0, .5, 9, 7, 7, 7, 7}, Decoder: IdentityDecoder(4)}
	if err := tb.Validate("t", 256); err != nil {
		t.Fatal(err)
	}
	lut := tb.BuildLUT(256)
	for i, x := range tb.Codebook {
		if lut[i] != x {
			t.Fatalf("lut[%d] = %v, want %v", i, lut[i], x)
		}
	}
	for i := len(tb.Codebook); i < len(lut); i++ {
		if lut[i] != 0 {
			t.Fatalf("padding row value %d = %v, want 0", i, lut[i])
		}
	}
}
