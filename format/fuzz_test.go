package format

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

// FuzzIndices: for every PQ type, any block bytes unpack to indices below
// 2^bits (so every index reads inside the 2^bits-row LUT) and pack back to
// the same bytes.
func FuzzIndices(f *testing.F) {
	f.Add([]byte{0, 1, 2, 0xFF, 0xF0, 0x0F})
	f.Add(bytes.Repeat([]byte{0xFF}, 48))
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, ty := range PQTypes {
			if ty.Additive() {
				fuzzPQA(t, ty, raw)
				continue
			}
			blocks := len(raw) / ty.TypeSize()
			src := raw[:blocks*ty.TypeSize()]
			idx := make([]uint32, blocks*ty.VectorsPerBlock())
			UnpackIndices(ty, src, idx)
			for i, x := range idx {
				if x >= uint32(ty.MaxK()) {
					t.Fatalf("%s: index %d is %d, beyond the %d-row LUT", ty.Name, i, x, ty.MaxK())
				}
			}
			dst := make([]byte, len(src))
			PackIndices(ty, idx, dst)
			if !bytes.Equal(src, dst) {
				t.Fatalf("%s: % x packs back to % x", ty.Name, src, dst)
			}
		}
	})
}

// FuzzTable builds tables of any shape from the fuzzer's bytes (values
// cycled to the exact lengths when exact is set, else taken as they come)
// and holds Validate to FORMAT.md's rules, checked here independently; a
// table it accepts must build a LUT without panicking whose rows >= K are zero.
func FuzzTable(f *testing.F) {
	f.Add(uint8(4), uint16(4), uint8(3), uint8(1), uint16(2), true, []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0})
	f.Add(uint8(8), uint16(256), uint8(8), uint8(0), uint16(0), true, []byte{1, 2, 3, 4})
	f.Add(uint8(2), uint16(3), uint8(2), uint8(2), uint16(5), false, []byte{0, 0, 0xc0, 0x7f})
	f.Fuzz(func(t *testing.T, v uint8, k uint16, latent, blocks uint8, hidden uint16, exact bool, raw []byte) {
		tb := Table{V: int(v), K: int(k), Latent: int(latent), Blocks: int(blocks % 20), Hidden: int(hidden % 1100)}
		floats := make([]float32, len(raw)/4)
		for i := range floats {
			floats[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		if exact && len(floats) > 0 && tb.K*tb.Latent <= 1<<16 && tb.K*tb.DecoderLen() <= 1<<22 { // LUT cost K·DecoderLen stays small
			tb.Codebook, tb.Decoder = cycle(floats, tb.K*tb.Latent), cycle(floats, tb.DecoderLen())
		} else {
			h := len(floats) / 2
			tb.Codebook, tb.Decoder = floats[:h], floats[h:]
		}
		maxK := 1 << 16
		if tb.V > 0 {
			if ty, err := PQTypeFor(tb.V, 8); err == nil {
				maxK = ty.MaxK()
			}
		}
		err := tb.Validate("g", maxK)
		valid := (tb.V == 2 || tb.V == 4 || tb.V == 8) && tb.K >= 1 && tb.K <= maxK &&
			tb.Latent >= 1 && tb.Latent <= 64 && tb.Blocks <= 16 && tb.Hidden <= 1024 && (tb.Blocks == 0 || tb.Hidden >= 1) &&
			len(tb.Codebook) == tb.K*tb.Latent && len(tb.Decoder) == tb.DecoderLen() &&
			allFinite(tb.Codebook) && allFinite(tb.Decoder)
		if (err == nil) != valid {
			t.Fatalf("Validate = %v for a table FORMAT.md calls valid=%v: %+v", err, valid, tb)
		}
		if err != nil {
			if !strings.Contains(err.Error(), `table "g"`) {
				t.Fatalf("error does not name the table: %v", err)
			}
			return
		}
		lut := tb.BuildLUT(maxK)
		if len(lut) != maxK*tb.V {
			t.Fatalf("LUT has %d values, want %d", len(lut), maxK*tb.V)
		}
		for i := tb.K * tb.V; i < len(lut); i++ {
			if lut[i] != 0 {
				t.Fatalf("LUT row %d >= K = %d is not zero", i/tb.V, tb.K)
			}
		}
	})
}

func cycle(x []float32, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = x[i%len(x)]
	}
	return out
}

func allFinite(x []float32) bool {
	for _, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false
		}
	}
	return true
}
