package format

import "github.com/pocketgguf/pocketgguf/gguf"

// Encoded sizes of the keys write.go writes, from shapes alone: the planner
// weighs many layouts before any table exists. TestKeySizes holds each to
// the size of the keys themselves.

// HeaderKVsSize is the size of HeaderKVs.
func HeaderKVsSize(method string) int64 {
	return gguf.KeySize(KeyVersion) + 4 + gguf.KeySize(KeyMethod) + gguf.StringSize(method) + gguf.KeySize(KeySeed) + 8
}

// TableKVsSize is the size of TableKVs(name, tb) for a table of tb's shape
// (V, K, Latent, Blocks, Hidden, Codebooks, Sharing); its slices are not read.
func TableKVsSize(name string, tb *Table) int64 {
	n := gguf.KeySize(KeyTableV(name)) + 4 +
		gguf.KeySize(KeyTableK(name)) + 4 +
		gguf.KeySize(KeyTableLatent(name)) + 4 +
		gguf.KeySize(KeyTableCodebook(name)) + gguf.ArraySize(int64(tb.M())*int64(tb.K)*int64(tb.Latent), gguf.ValUint16) +
		gguf.KeySize(KeyTableDecoderBlocks(name)) + 4 +
		gguf.KeySize(KeyTableDecoderHidden(name)) + 4 +
		gguf.KeySize(KeyTableDecoder(name)) + gguf.ArraySize(int64(tb.DecoderLen()), gguf.ValFloat32) +
		gguf.KeySize(KeyTableSharing(name)) + gguf.StringSize(tb.Sharing)
	if tb.Additive() {
		n += gguf.KeySize(KeyTableCodebooks(name)) + 4
	}
	return n
}

// TensorKVsSize is the size of TensorKVs for a tensor of rows rows, with
// row scales or without.
func TensorKVsSize(name, table string, rows int64, rowScale bool) int64 {
	n := gguf.KeySize(KeyTensorTable(name)) + gguf.StringSize(table) + gguf.KeySize(KeyTensorRelRMSE(name)) + 4
	if rowScale {
		n += ScaleKVSize(name, rows)
	}
	return n
}

// ScaleKVSize is the size of a tensor's row-scale key alone.
func ScaleKVSize(name string, rows int64) int64 {
	return gguf.KeySize(KeyTensorScale(name)) + gguf.ArraySize(rows, gguf.ValUint16)
}
