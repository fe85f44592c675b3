// Package format defines the PocketGGUF file format (docs/FORMAT.md): the PQ
// tensor types, the pocket.* metadata keys, index packing and the rule that
// rebuilds weights from a table. It is the single Go source of truth that the
// converter, unpack and the tests share; ggml-ext mirrors it in C.
package format

import (
	"fmt"

	"github.com/pocketgguf/pocketgguf/gguf"
)

// Version is pocket.version of a file without additive tensors: such files
// keep the bytes version 1 gave them. VersionAdditive marks a file that holds
// at least one additive (pqa_*) tensor; readers accept both (KnownVersion).
const (
	Version         = 1
	VersionAdditive = 2
)

// KnownVersion reports whether this code reads files of pocket.version v.
func KnownVersion(v uint64) bool { return v == Version || v == VersionAdditive }

// FileTypePQ is general.file_type for a file holding PQ tensors
// (LLAMA_FTYPE_MOSTLY_PQ in the patched llama.h).
const FileTypePQ = 100

// GGMLType is gguf's tensor type id, under the name the PQ table uses.
type GGMLType = gguf.Type

// PQType describes one PQ tensor type: one table row per format, so adding a
// format never adds a branch (see ggml's type_traits).
type PQType struct {
	ID        GGMLType
	Name      string // ggml type name, lower case as ggml prints it
	V         int    // sub-vector length
	IndexBits int    // 8, 12 or 16
	// Codebooks is M: 1 for the plain types; bits/4 for the additive types,
	// whose sub-vectors are the sum of one 16-entry codebook's entry per
	// 4-bit code (docs/FORMAT.md, "Additive types").
	Codebooks int
}

// PQTypes lists every PQ tensor type, in id order.
var PQTypes = []PQType{
	{100, "pq_2x8", 2, 8, 1},
	{101, "pq_4x8", 4, 8, 1},
	{102, "pq_4x12", 4, 12, 1},
	{103, "pq_4x16", 4, 16, 1},
	{104, "pq_8x8", 8, 8, 1},
	{105, "pq_8x12", 8, 12, 1},
	{106, "pq_8x16", 8, 16, 1},
	{107, "pqa_4x8", 4, 8, 2},
	{108, "pqa_4x12", 4, 12, 3},
	{109, "pqa_8x8", 8, 8, 2},
	{110, "pqa_8x12", 8, 12, 3},
	{111, "pqa_8x16", 8, 16, 4},
}

// AdditiveK is the size of each codebook of an additive type: a 4-bit code.
const AdditiveK = 16

// Additive reports whether t stores M 4-bit codes per sub-vector.
func (t PQType) Additive() bool { return t.Codebooks > 1 }

// VectorsPerBlock is 2 for 12-bit types (two indices share three bytes), else 1.
func (t PQType) VectorsPerBlock() int {
	if t.IndexBits == 12 {
		return 2
	}
	return 1
}

// BlockSize is the number of weights in one block.
func (t PQType) BlockSize() int { return t.V * t.VectorsPerBlock() }

// TypeSize is the number of bytes in one block.
func (t PQType) TypeSize() int { return t.IndexBits * t.VectorsPerBlock() / 8 }

// MaxK is the largest codebook a tensor of this type can address (per
// codebook for additive types).
func (t PQType) MaxK() int {
	if t.Additive() {
		return AdditiveK
	}
	return 1 << t.IndexBits
}

// Indices is the size of the index space of one sub-vector: 2^bits (for
// additive types the product index Σ code_m·16^m, format.ProductLUT).
func (t PQType) Indices() int { return 1 << t.IndexBits }

// RowBytes is the size in bytes of a row of n weights; n must be a multiple of BlockSize.
func (t PQType) RowBytes(n int) int { return n / t.BlockSize() * t.TypeSize() }

// LookupPQ returns the PQ type with the given ggml id.
func LookupPQ(id GGMLType) (PQType, bool) {
	for _, t := range PQTypes {
		if t.ID == id {
			return t, true
		}
	}
	return PQType{}, false
}

// PQTypeFor returns the plain PQ type with sub-vector length v and index bits.
func PQTypeFor(v, bits int) (PQType, error) {
	for _, t := range PQTypes {
		if t.V == v && t.IndexBits == bits && !t.Additive() {
			return t, nil
		}
	}
	return PQType{}, fmt.Errorf("no PQ type with vector length %d and %d-bit indices (have v=2 with 8 bits; v=4 or 8 with 8, 12 or 16 bits)", v, bits)
}

// PQATypeFor returns the additive type with sub-vector length v and m codebooks.
func PQATypeFor(v, m int) (PQType, error) {
	for _, t := range PQTypes {
		if t.V == v && t.Codebooks == m && t.Additive() {
			return t, nil
		}
	}
	return PQType{}, fmt.Errorf("no additive type with vector length %d and %d codebooks (have v=4 with 2 or 3; v=8 with 2, 3 or 4)", v, m)
}

// ParsePQType finds a PQ type by its ggml name (for example "pq_4x8").
func ParsePQType(name string) (PQType, bool) {
	for _, t := range PQTypes {
		if t.Name == name {
			return t, true
		}
	}
	return PQType{}, false
}
