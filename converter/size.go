package converter

import (
	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/gguf"
)

// Encoded sizes of GGUF metadata, for predicting the output size exactly
// enough to meet --bpw (every byte of the file counts toward it).

func keySize(key string) int64 { return 8 + int64(len(key)) + 4 }
func strSize(s string) int64   { return 8 + int64(len(s)) }
func arrSize(n, elem int64) int64 {
	return 4 + 8 + n*elem
}

// tensorInfoSize is one tensor info's encoded size.
func tensorInfoSize(t *gguf.TensorInfo) int64 {
	return strSize(t.Name) + 4 + 8*int64(len(t.Shape)) + 4 + 8
}

// tableKeysSize is the size of the pocket.table.<G>.* keys of one table for
// tensors of type ty (additive: M codebooks and the codebooks key).
func tableKeysSize(g string, ty format.PQType, k int, tp tableParams) int64 {
	v := ty.V
	d := int64(tp.latent(v))
	dec := int64(tp.blocks)*(2*int64(tp.hidden)*d+int64(tp.hidden)+d) + int64(v)*d + int64(v)
	var extra int64
	if ty.Additive() {
		extra = keySize(format.KeyTableCodebooks(g)) + 4
	}
	return extra + keySize(format.KeyTableV(g)) + 4 +
		keySize(format.KeyTableK(g)) + 4 +
		keySize(format.KeyTableLatent(g)) + 4 +
		keySize(format.KeyTableCodebook(g)) + arrSize(int64(ty.Codebooks)*int64(k)*d, 2) +
		keySize(format.KeyTableDecoderBlocks(g)) + 4 +
		keySize(format.KeyTableDecoderHidden(g)) + 4 +
		keySize(format.KeyTableDecoder(g)) + arrSize(dec, 4) +
		keySize(format.KeyTableSharing(g)) + strSize("tensor")
}

// tensorKeysSize is the size of the pocket.tensor.<T>.* keys of one PQ tensor
// whose table is named g.
func tensorKeysSize(t *gguf.TensorInfo, g string, rowScale bool) int64 {
	n := keySize(format.KeyTensorTable(t.Name)) + strSize(g) +
		keySize(format.KeyTensorRelRMSE(t.Name)) + 4
	if rowScale {
		n += keySize(format.KeyTensorScale(t.Name)) + arrSize(int64(t.Rows()), 2)
	}
	return n
}

// tableParams is the decoder shape a table will have (quant's defaults).
type tableParams struct {
	blocks, hidden, latentDim int
}

func (tp tableParams) latent(v int) int {
	if tp.latentDim > 0 {
		return tp.latentDim
	}
	return v
}

func alignUp(x, a int64) int64 { return (x + a - 1) / a * a }
