package format

import "fmt"

// The code layout of an additive tensor (docs/FORMAT.md, "Additive types"):
// a row of n weights has P = (n/v)*M 4-bit codes, position p = j*M + m. In a
// 2-D slice of R rows the first 32*floor(R/32) rows are stored in groups of
// 32 rows so that one 16-byte load carries one position of 32 rows (the
// kernels' in-register table lookup); the rest follow row-major. Rows are
// therefore not independent: pack and unpack work on whole slices.

// groupRows is the interleave of the additive layout.
const groupRows = 32

// CodesPerRow is P, the 4-bit codes of one row of n weights of an additive type.
func (t PQType) CodesPerRow(n int) int { return n / t.V * t.Codebooks }

// PackPQA writes the codes of one 2-D slice of rows×cols weights of the
// additive type t into dst (rows*RowBytes(cols) bytes). codes holds rows*P
// values < 16, row-major, position p = j*M + m within a row.
func PackPQA(t PQType, rows, cols int, codes []uint8, dst []byte) {
	P := t.CodesPerRow(cols)
	checkPQA(t, rows, cols, P, len(codes), len(dst))
	full := rows / groupRows * groupRows
	for g := 0; g < full; g += groupRows {
		base := dst[g*P/2 : (g+groupRows)*P/2] // 16*P bytes
		for p := 0; p < P; p++ {
			o := base[16*p : 16*p+16]
			for b := 0; b < 16; b++ {
				o[b] = codes[(g+b)*P+p]&0x0F | codes[(g+16+b)*P+p]<<4
			}
		}
	}
	for r := full; r < rows; r++ {
		row := dst[r*P/2 : (r+1)*P/2]
		c := codes[r*P : (r+1)*P]
		for i := range row {
			row[i] = c[2*i]&0x0F | c[2*i+1]<<4
		}
	}
}

// UnpackPQA is the inverse of PackPQA: it reads the rows*P codes of a slice.
func UnpackPQA(t PQType, rows, cols int, src []byte, codes []uint8) {
	P := t.CodesPerRow(cols)
	checkPQA(t, rows, cols, P, len(codes), len(src))
	full := rows / groupRows * groupRows
	for g := 0; g < full; g += groupRows {
		base := src[g*P/2 : (g+groupRows)*P/2]
		for p := 0; p < P; p++ {
			o := base[16*p : 16*p+16]
			for b := 0; b < 16; b++ {
				codes[(g+b)*P+p] = o[b] & 0x0F
				codes[(g+16+b)*P+p] = o[b] >> 4
			}
		}
	}
	for r := full; r < rows; r++ {
		row := src[r*P/2 : (r+1)*P/2]
		c := codes[r*P : (r+1)*P]
		for i, b := range row {
			c[2*i], c[2*i+1] = b&0x0F, b>>4
		}
	}
}

// PQACode is the code of (row r, position p) of a slice of rows rows with P
// codes per row, read straight from the packed bytes: ggml_pqa_code in
// ggml-ext/include/ggml-pq.h, the rule's one-line statement.
func PQACode(src []byte, rows, P, r, p int) uint8 {
	full := rows / groupRows * groupRows
	if r < full {
		b := src[(r/groupRows)*16*P+p*16+r%16]
		if r%groupRows < 16 {
			return b & 0x0F
		}
		return b >> 4
	}
	b := src[full*(P/2)+(r-full)*(P/2)+p/2]
	if p&1 == 1 {
		return b >> 4
	}
	return b & 0x0F
}

func checkPQA(t PQType, rows, cols, P, ncodes, nbytes int) {
	if !t.Additive() || cols%t.BlockSize() != 0 || ncodes < rows*P || nbytes < rows*P/2 {
		panic(fmt.Sprintf("format: %s slice of %d×%d with %d codes and %d bytes", t.Name, rows, cols, ncodes, nbytes))
	}
}

// ProductIndex is the index of a sub-vector of an additive type into its
// ProductLUT: Σ_m code_m·16^m.
func ProductIndex(codes []uint8) uint32 {
	var x uint32
	for m := len(codes) - 1; m >= 0; m-- {
		x = x<<4 | uint32(codes[m]&0x0F)
	}
	return x
}

// PackTensor writes the indices of a tensor of type t (rows×cols per 2-D
// slice, any number of slices) into dst. For additive types the indices are
// product indices (ProductIndex), split into codes and laid out per slice.
func PackTensor(t PQType, rows, cols int, idx []uint32, dst []byte) {
	if t.Additive() {
		M := t.Codebooks
		eachPQASlice(t, rows, cols, idx, dst, func(idx []uint32, codes []uint8, dst []byte) {
			for i, x := range idx {
				for m := 0; m < M; m++ {
					codes[i*M+m] = uint8(x >> (4 * m) & 0x0F)
				}
			}
			PackPQA(t, rows, cols, codes, dst)
		})
		return
	}
	PackIndices(t, idx, dst)
}

// UnpackTensor is the inverse of PackTensor: len(idx) must be a whole number
// of slices of rows*(cols/V) sub-vectors.
func UnpackTensor(t PQType, rows, cols int, src []byte, idx []uint32) {
	if t.Additive() {
		M := t.Codebooks
		eachPQASlice(t, rows, cols, idx, src, func(idx []uint32, codes []uint8, src []byte) {
			UnpackPQA(t, rows, cols, src, codes)
			for i := range idx {
				idx[i] = ProductIndex(codes[i*M : i*M+M])
			}
		})
		return
	}
	UnpackIndices(t, src, idx)
}

// eachPQASlice calls f for each 2-D slice (rows×cols) of a tensor of additive
// type t with the slice's product indices, its packed bytes and a codes
// buffer (M per sub-vector) that every call reuses.
func eachPQASlice(t PQType, rows, cols int, idx []uint32, packed []byte, f func(idx []uint32, codes []uint8, packed []byte)) {
	per, sb := rows*(cols/t.V), rows*t.RowBytes(cols)
	codes := make([]uint8, per*t.Codebooks)
	for s := 0; s*per < len(idx); s++ {
		f(idx[s*per:(s+1)*per], codes, packed[s*sb:(s+1)*sb])
	}
}

// ProductLUT is the table an additive table's product indices read: 16^M
// rows of V floats, row Σ code_m·16^m = LUT_0[code_0] + LUT_1[code_1] + ...,
// added in float32 with m ascending from entry 0 as docs/FORMAT.md rebuilds a
// weight (so scale·row is bit for bit the decoded weight). Codes >= K read the
// zero rows of their codebook, as at run time. Additive tables only.
func (t *Table) ProductLUT() []float32 {
	if !t.Additive() {
		panic("format: ProductLUT of a plain table")
	}
	v, M := t.V, t.M()
	per := t.BuildLUT(AdditiveK) // M × 16 × v
	n := 1 << (4 * M)
	out := make([]float32, n*v)
	for p := 0; p < n; p++ {
		row := out[p*v : p*v+v]
		copy(row, per[(p&0x0F)*v:(p&0x0F)*v+v])
		for m := 1; m < M; m++ {
			e := per[(m*AdditiveK+(p>>(4*m))&0x0F)*v:]
			for i := range row {
				row[i] += e[i]
			}
		}
	}
	return out
}
