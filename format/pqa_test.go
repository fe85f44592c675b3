package format

import (
	"bytes"
	"math/rand"
	"strings"
	"testing"
)

func TestAdditiveTypes(t *testing.T) {
	want := map[string][3]int{ // v, M, bytes per row of 64 weights
		"pqa_4x8": {4, 2, 16}, "pqa_4x12": {4, 3, 24}, "pqa_8x8": {8, 2, 8}, "pqa_8x12": {8, 3, 12}, "pqa_8x16": {8, 4, 16},
	}
	n := 0
	for _, ty := range PQTypes {
		w, ok := want[ty.Name]
		if ok != ty.Additive() {
			t.Fatalf("%s: Additive() = %v", ty.Name, ty.Additive())
		}
		if !ok {
			continue
		}
		n++
		if ty.V != w[0] || ty.Codebooks != w[1] || ty.RowBytes(64) != w[2] || ty.MaxK() != 16 || ty.IndexBits != 4*ty.Codebooks {
			t.Fatalf("%s: %+v, MaxK %d, RowBytes(64) %d", ty.Name, ty, ty.MaxK(), ty.RowBytes(64))
		}
		if got, err := PQATypeFor(ty.V, ty.Codebooks); err != nil || got != ty {
			t.Fatalf("PQATypeFor(%d, %d) = %v, %v", ty.V, ty.Codebooks, got, err)
		}
		if got, _ := PQTypeFor(ty.V, ty.IndexBits); got.Additive() {
			t.Fatalf("PQTypeFor(%d, %d) is additive", ty.V, ty.IndexBits)
		}
	}
	if n != 5 {
		t.Fatalf("%d additive types, want 5", n)
	}
}

// Every additive type, slices of 172 rows (5 groups of 32 and 12 rows left)
// and of 32 and 7 rows: pack, unpack and the one-code rule agree.
func TestPQARoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, ty := range PQTypes {
		if !ty.Additive() {
			continue
		}
		for _, rows := range []int{172, 32, 7, 1} {
			cols := 2 * ty.BlockSize() * 3
			P := ty.CodesPerRow(cols)
			codes := make([]uint8, rows*P)
			for i := range codes {
				codes[i] = uint8(rng.Intn(16))
			}
			buf := make([]byte, rows*ty.RowBytes(cols))
			PackPQA(ty, rows, cols, codes, buf)
			got := make([]uint8, len(codes))
			UnpackPQA(ty, rows, cols, buf, got)
			if !bytes.Equal(got, codes) {
				t.Fatalf("%s %d rows: unpack differs", ty.Name, rows)
			}
			for r := 0; r < rows; r++ {
				for p := 0; p < P; p++ {
					if c := PQACode(buf, rows, P, r, p); c != codes[r*P+p] {
						t.Fatalf("%s %d rows: code(%d, %d) = %d, want %d", ty.Name, rows, r, p, c, codes[r*P+p])
					}
				}
			}
			// PackTensor over two slices = PackPQA per slice.
			idx := make([]uint32, 2*rows*cols/ty.V)
			M := ty.Codebooks
			for i := range idx {
				c := codes[(i%(rows*cols/ty.V))*M:][:M]
				idx[i] = ProductIndex(c)
			}
			two := make([]byte, 2*len(buf))
			PackTensor(ty, rows, cols, idx, two)
			if !bytes.Equal(two[:len(buf)], buf) || !bytes.Equal(two[len(buf):], buf) {
				t.Fatalf("%s %d rows: PackTensor differs from PackPQA", ty.Name, rows)
			}
			back := make([]uint32, len(idx))
			UnpackTensor(ty, rows, cols, two, back)
			for i := range idx {
				if back[i] != idx[i] {
					t.Fatalf("%s %d rows: UnpackTensor index %d = %d, want %d", ty.Name, rows, i, back[i], idx[i])
				}
			}
		}
	}
}

// Bytes written by hand from docs/FORMAT.md: pqa_4x8 (M = 2), 33 rows of 4
// weights, so P = 2 codes a row, one group of 32 rows and one row after it.
// Code of (row r, position p) = (r + 3p) mod 16, so the group's 16 bytes of
// position p are byte b = lo (b+3p)%16 | hi (b+16+3p)%16 = same value twice.
func TestPQAHandMadeBytes(t *testing.T) {
	ty, _ := ParsePQType("pqa_4x8")
	const rows, P = 33, 2
	var raw []byte
	for p := 0; p < P; p++ {
		for b := 0; b < 16; b++ {
			c := byte((b + 3*p) % 16)
			raw = append(raw, c|c<<4) // rows b and b+16 have the same code
		}
	}
	// row 32, row-major: byte 0 = position 0 (low) and 1 (high).
	raw = append(raw, byte((32+0)%16)|byte((32+3)%16)<<4)
	if len(raw) != rows*ty.RowBytes(4) {
		t.Fatalf("%d bytes, want %d", len(raw), rows*ty.RowBytes(4))
	}
	codes := make([]uint8, rows*P)
	UnpackPQA(ty, rows, 4, raw, codes)
	for r := 0; r < rows; r++ {
		for p := 0; p < P; p++ {
			if want := uint8((r + 3*p) % 16); codes[r*P+p] != want {
				t.Fatalf("code(%d, %d) = %d, want %d", r, p, codes[r*P+p], want)
			}
		}
	}
	// Two codebooks of K = 2 entries (v = 4), decoded weight = sum of entries;
	// codes >= K read zero rows.
	tb := &Table{V: 4, K: 2, Latent: 4, Codebooks: 2, Decoder: IdentityDecoder(4),
		Codebook: []float32{1, 2, 3, 4, 5, 6, 7, 8 /* codebook 1: */, .5, .25, 0, -1, 10, 20, 30, 40}}
	if err := tb.Validate("hand", 16); err != nil {
		t.Fatal(err)
	}
	prod := tb.ProductLUT()
	if len(prod) != 256*4 {
		t.Fatalf("product LUT has %d values", len(prod))
	}
	for _, c := range []struct {
		c0, c1 uint8
		want   [4]float32
	}{{0, 0, [4]float32{1.5, 2.25, 3, 3}}, {1, 1, [4]float32{15, 26, 37, 48}}, {1, 0, [4]float32{5.5, 6.25, 7, 7}}, {0, 5, [4]float32{1, 2, 3, 4}}, {9, 9, [4]float32{}}} {
		p := ProductIndex([]uint8{c.c0, c.c1})
		for i, w := range c.want {
			if prod[int(p)*4+i] != w {
				t.Fatalf("codes %d,%d: product row %v, want %v", c.c0, c.c1, prod[p*4:p*4+4], c.want)
			}
		}
	}
}

func TestAdditiveTableValidate(t *testing.T) {
	ok := &Table{V: 4, K: 16, Latent: 4, Codebooks: 3, Codebook: make([]float32, 3*16*4), Decoder: IdentityDecoder(4)}
	if err := ok.Validate("a", 1<<16); err != nil {
		t.Fatal(err)
	}
	lut := ok.BuildLUT(16)
	if len(lut) != 3*16*4 {
		t.Fatalf("BuildLUT: %d values, want one 16-row table per codebook", len(lut))
	}
	for _, c := range []struct {
		tb   Table
		want string
	}{
		{Table{V: 4, K: 17, Latent: 4, Codebooks: 2, Codebook: make([]float32, 2*17*4), Decoder: IdentityDecoder(4)}, "17 codebook entries (want 1..16)"},
		{Table{V: 4, K: 16, Latent: 4, Codebooks: 2, Codebook: make([]float32, 16*4), Decoder: IdentityDecoder(4)}, "want codebooks*K*latent = 128"},
		{Table{V: 4, K: 16, Latent: 4, Codebooks: 5, Codebook: make([]float32, 5*16*4), Decoder: IdentityDecoder(4)}, "5 codebooks"},
	} {
		err := c.tb.Validate("bad", 1<<16)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `table "bad"`) {
			t.Fatalf("%+v: error %v, want %q", c.tb, err, c.want)
		}
	}
}

func fuzzPQA(t *testing.T, ty PQType, raw []byte) {
	cols := ty.BlockSize() * 2
	rb := ty.RowBytes(cols)
	rows := len(raw) / rb
	if rows == 0 {
		return
	}
	src := raw[:rows*rb]
	codes := make([]uint8, rows*ty.CodesPerRow(cols))
	UnpackPQA(ty, rows, cols, src, codes)
	dst := make([]byte, len(src))
	PackPQA(ty, rows, cols, codes, dst)
	if !bytes.Equal(src, dst) {
		t.Fatalf("%s: % x packs back to % x", ty.Name, src, dst)
	}
}
