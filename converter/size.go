package converter

import (
	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/gguf"
)

// The planner's names for the codec's exact sizes (format/size.go, gguf/size.go):
// every byte of the file counts toward --bpw.

func keySize(key string) int64       { return gguf.KeySize(key) }
func strSize(s string) int64         { return gguf.StringSize(s) }
func arrSize(n, elem int64) int64    { return 4 + 8 + n*elem }
func kvEncodedSize(kv gguf.KV) int64 { return kv.EncodedSize() }

// tensorInfoSize is one tensor info's encoded size.
func tensorInfoSize(t *gguf.TensorInfo) int64 { return t.EncodedSize() }

// tableKeysSize is the size of the pocket.table.<G>.* keys of one table of K
// entries (per codebook) for tensors of type ty, as the planner will shape
// it; the sharing value is sized for its longest word.
func tableKeysSize(g string, ty format.PQType, k int, tp tableParams) int64 {
	return format.TableKVsSize(g, &format.Table{V: ty.V, K: k, Latent: tp.latent(ty.V), Blocks: tp.blocks, Hidden: tp.hidden, Codebooks: ty.Codebooks, Sharing: "tensor"})
}

// tensorKeysSize is the size of the pocket.tensor.<T>.* keys of one PQ tensor
// whose table is named g.
func tensorKeysSize(t *gguf.TensorInfo, g string, rowScale bool) int64 {
	return format.TensorKVsSize(t.Name, g, int64(t.Rows()), rowScale)
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
