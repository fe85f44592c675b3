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

// relMSE estimates the relative mean squared reconstruction error of c for a
// tensor of input type in. (No shortcut for K ≥ the tensor's sub-vectors: the
// table may be shared, so K is spread over more than this tensor.)
func (c Choice) relMSE(in format.GGMLType) float64 {
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
