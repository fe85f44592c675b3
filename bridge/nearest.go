package bridge

// #include "nearest.h"
import "C"

import (
	"fmt"
	"unsafe"
)

// Nearest points each sub-vector of v weights of shadow (rows x cols, row
// major), divided by its row's scale, at the nearest candidate LUT entry:
// lut[id*v : id*v+v] for id in ids, or for every id below len(lut)/v when
// ids is nil. It writes idx[r*cols/v + j]; rows whose scale is 0 keep
// theirs. The nearest is by squared distance summed in component order with
// separately rounded products (Go's own loop on amd64); the first of equals
// wins; a sub-vector with no finite distance gets 0. scales may be nil.
func Nearest(lut []float32, v int, ids []uint32, shadow []float32, rows, cols int, scales []float32, idx []uint32) error {
	nids := len(lut) / max(v, 1)
	if ids != nil {
		nids = len(ids)
	}
	switch {
	case v < 1 || v > 16 || cols%v != 0:
		return fmt.Errorf("nearest: sub-vector length %d for %d columns", v, cols)
	case len(shadow) < rows*cols || len(idx) < rows*cols/v || scales != nil && len(scales) < rows:
		return fmt.Errorf("nearest: %d weights, %d indices, %d scales for %d x %d", len(shadow), len(idx), len(scales), rows, cols)
	case rows*cols == 0:
		return nil
	}
	for _, id := range ids {
		if int(id)*v+v > len(lut) {
			return fmt.Errorf("nearest: candidate %d outside a LUT of %d entries", id, len(lut)/v)
		}
	}
	var pids *C.uint32_t
	if len(ids) > 0 {
		pids = (*C.uint32_t)(unsafe.Pointer(&ids[0]))
	}
	var plut *C.float
	if len(lut) > 0 {
		plut = (*C.float)(unsafe.Pointer(&lut[0]))
	}
	var ps *C.float
	if scales != nil {
		ps = (*C.float)(unsafe.Pointer(&scales[0]))
	}
	if C.pocket_nearest(plut, C.int(v), pids, C.int64_t(nids), (*C.float)(unsafe.Pointer(&shadow[0])), C.int64_t(rows), C.int64_t(cols),
		ps, (*C.uint32_t)(unsafe.Pointer(&idx[0]))) != 0 {
		return fmt.Errorf("nearest: out of memory for %d candidates", nids)
	}
	return nil
}

// setNearestSIMD switches the SIMD path (tests hold the scalar one to the
// same choices); the package starts with it on.
func setNearestSIMD(on bool) {
	if on {
		C.pocket_nearest_simd(1)
	} else {
		C.pocket_nearest_simd(0)
	}
}
