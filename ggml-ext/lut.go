// Package ggmlext exposes the C table builder of ggml-ext (the code the patched llama.cpp
// runs at load time) to Go, so tests can compare it with the format package's reference.
package ggmlext

// #cgo CFLAGS: -O2 -I${SRCDIR}/include
// #cgo LDFLAGS: -lm
// #include "include/ggml-pq.h"
import "C"

import (
	"errors"
	"runtime"
	"unsafe"

	"github.com/pocketgguf/pocketgguf/format"
)

// BuildLUT runs ggml_pq_table_check and ggml_pq_build_lut on t and returns rows*V floats.
func BuildLUT(t *format.Table, rows int) ([]float32, error) {
	if len(t.Codebook) == 0 || len(t.Decoder) == 0 {
		return nil, errors.New("ggmlext: empty codebook or decoder")
	}
	ct := C.struct_ggml_pq_table{
		v: C.int(t.V), k: C.int(t.K), latent: C.int(t.Latent),
		blocks: C.int(t.Blocks), hidden: C.int(t.Hidden),
		codebook: (*C.float)(unsafe.Pointer(&t.Codebook[0])),
		decoder:  (*C.float)(unsafe.Pointer(&t.Decoder[0])),
	}
	// the struct holds Go pointers: pin them for the duration of the calls
	var pin runtime.Pinner
	pin.Pin(&t.Codebook[0])
	pin.Pin(&t.Decoder[0])
	defer pin.Unpin()
	var bad C.int64_t
	// the C check reads K*latent and DecoderLen values: refuse short arrays before it does
	if len(t.Codebook) != t.K*t.Latent || len(t.Decoder) != t.DecoderLen() {
		return nil, errors.New("ggmlext: codebook or decoder length does not match the table shape")
	}
	if msg := C.ggml_pq_table_check(&ct, C.int(rows), &bad); msg != nil {
		return nil, errors.New("ggmlext: " + C.GoString(msg))
	}
	lut := make([]float32, rows*t.V)
	C.ggml_pq_build_lut(&ct, C.int(rows), (*C.float)(unsafe.Pointer(&lut[0])))
	return lut, nil
}
