package format

import "github.com/pocketgguf/pocketgguf/gguf"

// IndexLUT is the table a tensor of type ty reads its indices from: 2^bits
// decoded entries, or for an additive type the 16^M sums (ProductLUT), whose
// rows scaled by the row scale are the decoded weights bit for bit.
func IndexLUT(tb *Table, ty PQType) []float32 {
	if ty.Additive() {
		return tb.ProductLUT()
	}
	return tb.BuildLUT(ty.MaxK())
}

// SliceRows is R, the rows of one 2-D slice (ne1): the additive layout
// interleaves rows within a slice.
func SliceRows(t *gguf.TensorInfo) int {
	if len(t.Shape) < 2 {
		return 1
	}
	return int(t.Shape[1])
}

// Decode rebuilds rows×cols weights from row-major indices into lut (rows of
// v floats): W[r, j·v+t] = scale[r]·lut[idx[r, j]][t] (docs/FORMAT.md).
// scales nil means 1.
func Decode(idx []uint32, scales, lut []float32, rows, cols, v int) []float32 {
	per := cols / v
	out := make([]float32, rows*cols)
	for r := 0; r < rows; r++ {
		s := float32(1)
		if scales != nil {
			s = scales[r]
		}
		for j, id := range idx[r*per : (r+1)*per] {
			l := lut[int(id)*v : int(id)*v+v]
			for t := 0; t < v; t++ {
				out[r*cols+j*v+t] = s * l[t]
			}
		}
	}
	return out
}
