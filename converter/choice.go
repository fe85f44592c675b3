package converter

import (
	"fmt"
	"math"

	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/gguf"
)

// Choice is how one tensor is stored: PQ indices into a table of K entries,
// or a dense ggml type (the input type itself means "keep", bytes copied).
type Choice struct {
	PQ    bool
	Type  format.PQType   // when PQ
	K     int             // when PQ
	Dense format.GGMLType // when !PQ
}

func (c Choice) String() string {
	if c.PQ {
		return fmt.Sprintf("%s/K=%d", c.Type.Name, c.K)
	}
	return gguf.TypeName(c.Dense)
}

// optKey identifies a PQ option; tensors with the same key may share a table.
type optKey struct {
	typ format.PQType
	k   int
}

// dataBytes is the tensor's data size under c.
func (c Choice) dataBytes(t *gguf.TensorInfo) int64 {
	if c.PQ {
		return int64(t.Rows()) * int64(c.Type.RowBytes(int(t.Cols())))
	}
	ti, _ := gguf.LookupType(c.Dense)
	return int64(t.Elements()) / int64(ti.BlockSize) * int64(ti.TypeSize)
}

// pqConstant is the vector-quantisation constant c(v) in
// relMSE ≈ c(v)·2^(-2·log2(K)/v): measured with quant's k-means on a 512×512
// Student-t(4) matrix (v=2 K=256: 2.94; v=4 K=256/4096: 1.60/1.63; v=8
// K=256: 1.15). Larger v packs space better. c is kept flat in K: a lower c
// measured for v=8 at K=4096 came from a data-limited fit (8 sub-vectors per
// entry) and led to pq_8x12 plans that measured worse on the test models. It
// ranks options; the per-tensor difficulty (calibrate.go) scales it.
var pqConstant = map[int]float64{2: 2.9, 4: 1.6, 8: 1.15}

// pqaConstant is c for the additive types, per (v, M), in the same model
// with log2 K replaced by the M·log2 K bits of the codes: measured as
// pqConstant (512×512 Student-t(4), quant's additive training, no row scales;
// relMSE pqa_4x8 0.128, pqa_4x12 0.042, pqa_8x8 0.329, pqa_8x12 0.188,
// pqa_8x16 0.104). The sum of M 16-entry codebooks covers space less freely
// than one codebook of 16^M entries, so c is higher than the plain type's of
// the same v (pq_4x8 measures 1.61 there), the more so the more codebooks.
var pqaConstant = map[[2]int]float64{{4, 2}: 2.05, {4, 3}: 2.7, {8, 2}: 1.32, {8, 3}: 1.5, {8, 4}: 1.66}

// relMSE estimates the relative mean squared reconstruction error of c for a
// tensor of input type in. (No shortcut for K ≥ the tensor's sub-vectors: the
// table may be shared, so K is spread over more than this tensor.)
func (c Choice) relMSE(in format.GGMLType) float64 {
	if c.PQ && c.Type.Additive() {
		r := float64(c.Type.Codebooks) * math.Log2(float64(c.K)) / float64(c.Type.V)
		return math.Min(1, pqaConstant[[2]int{c.Type.V, c.Type.Codebooks}]*math.Exp2(-2*r))
	}
	if c.PQ {
		r := math.Log2(float64(c.K)) / float64(c.Type.V)
		return math.Min(1, pqConstant[c.Type.V]*math.Exp2(-2*r))
	}
	if c.Dense == in {
		return 0
	}
	switch c.Dense {
	case gguf.TypeQ8_0:
		return 5e-5
	case gguf.TypeF16, gguf.TypeBF16:
		return 1e-6
	}
	return 0
}
