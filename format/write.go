package format

import "github.com/pocketgguf/pocketgguf/gguf"

// VersionFor is pocket.version of a file: VersionAdditive when it holds an
// additive tensor, else Version (so such files keep their version-1 bytes).
func VersionFor(additive bool) uint32 {
	if additive {
		return VersionAdditive
	}
	return Version
}

// HeaderKVs are the file-wide pocket.* keys, written after the input's keys.
func HeaderKVs(version uint32, method string, seed uint64) []gguf.KV {
	return []gguf.KV{
		{Key: KeyVersion, Value: gguf.U32(version)},
		{Key: KeyMethod, Value: gguf.Str(method)},
		{Key: KeySeed, Value: gguf.U64(seed)},
	}
}

// TableKVs are the pocket.table.<name>.* keys of tb. The codebook is stored
// as f16: tables are trained f16-rounded, so the conversion is exact.
func TableKVs(name string, tb *Table) []gguf.KV {
	kvs := []gguf.KV{
		{Key: KeyTableV(name), Value: gguf.U32(uint32(tb.V))},
		{Key: KeyTableK(name), Value: gguf.U32(uint32(tb.K))},
		{Key: KeyTableLatent(name), Value: gguf.U32(uint32(tb.Latent))},
		{Key: KeyTableCodebook(name), Value: Halves(tb.Codebook)},
		{Key: KeyTableDecoderBlocks(name), Value: gguf.U32(uint32(tb.Blocks))},
		{Key: KeyTableDecoderHidden(name), Value: gguf.U32(uint32(tb.Hidden))},
		{Key: KeyTableDecoder(name), Value: gguf.F32s(tb.Decoder)},
		{Key: KeyTableSharing(name), Value: gguf.Str(tb.Sharing)},
	}
	if tb.Additive() {
		kvs = append(kvs, gguf.KV{Key: KeyTableCodebooks(name), Value: gguf.U32(uint32(tb.Codebooks))})
	}
	return kvs
}

// TensorKVs are the pocket.tensor.<name>.* keys of a PQ tensor using table;
// scales (f16 bits, one per row) nil means the tensor has none.
func TensorKVs(name, table string, scales []uint16, relRMSE float32) []gguf.KV {
	kvs := []gguf.KV{{Key: KeyTensorTable(name), Value: gguf.Str(table)}}
	if scales != nil {
		kvs = append(kvs, gguf.KV{Key: KeyTensorScale(name), Value: gguf.U16s(scales)})
	}
	return append(kvs, gguf.KV{Key: KeyTensorRelRMSE(name), Value: gguf.F32(relRMSE)})
}

// Halves is x as an array of f16 bits, the way codebooks and row scales are stored.
func Halves(x []float32) gguf.Value {
	h := make([]uint16, len(x))
	for i, f := range x {
		h[i] = gguf.FloatToHalf(f)
	}
	return gguf.U16s(h)
}

// FloatsLike encodes x as the stored value was: f16 bits when it is an array
// of u16, else f32. Readers take both (Value.Float32s); a file rewritten in
// place keeps its layout and size.
func FloatsLike(stored gguf.Value, x []float32) gguf.Value {
	if a, ok := stored.Arr(); ok && a.Elem == gguf.ValUint16 {
		return Halves(x)
	}
	return gguf.F32s(x)
}
