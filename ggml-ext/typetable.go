package ggmlext

// #include "include/ggml-pq.h"
import "C"

// CType is one row of ggml-ext's C type table (src/types.c, ggml_pq_get_type).
type CType struct {
	ID                  int
	Name                string
	V, Bits             int
	BlockSize, TypeSize int
	Codebooks, MaxK     int
	Additive            bool // ggml_pq_is_additive
}

// CTypes returns every row of the C type table, in id order (GGML_PQ_TYPE_FIRST ..
// GGML_PQ_TYPE_END-1), and the end id.
func CTypes() ([]CType, int) {
	var rows []CType
	for id := C.GGML_PQ_TYPE_FIRST; id < C.GGML_PQ_TYPE_END; id++ {
		ti := C.ggml_pq_get_type(C.int(id))
		if ti == nil {
			rows = append(rows, CType{ID: id})
			continue
		}
		rows = append(rows, CType{
			ID: id, Name: C.GoString(ti.name), V: int(ti.v), Bits: int(ti.bits),
			BlockSize: int(ti.blck_size), TypeSize: int(ti.type_size),
			Codebooks: int(ti.codebooks), MaxK: int(ti.max_k),
			Additive: C.ggml_pq_is_additive(C.int(id)) != 0,
		})
	}
	return rows, C.GGML_PQ_TYPE_END
}
