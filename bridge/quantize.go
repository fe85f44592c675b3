package bridge

// #include <stdlib.h>
// #include "native.h"
// void * pocket_imatrix_new(void);
// int    pocket_imatrix_put(void * m, const char * name, const float * values, long n);
// void   pocket_imatrix_free(void * m);
import "C"

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"unsafe"

	"github.com/ollama/ollama/fs/gguf"
)

// QuantizeParams are llama_model_quantize's options.
type QuantizeParams struct {
	FType   string // llama-quantize's name: Q8_0, Q4_K_M, IQ2_XXS, ... (FTypeNames)
	Threads int    // 0: runtime.NumCPU()
	// Imatrix maps weight names to the mean of x² per input column
	// (Imatrix.Means); required for IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S, IQ1_M, Q2_K_S.
	Imatrix         map[string][]float32
	AllowRequantize bool // allow input tensors that are already quantized
	Pure            bool // every tensor gets the type, without llama.cpp's per-tensor mix
}

// Quantize writes a copy of the GGUF model in with its weights quantized to
// ftype (a llama-quantize name), like `llama-quantize in out ftype threads`.
func Quantize(in, out, ftype string, threads int) error {
	return QuantizeModel(in, out, QuantizeParams{FType: ftype, Threads: threads})
}

// QuantizeModel is Quantize with all options. It writes to a temporary file
// beside out and renames it, so out is either complete or untouched.
func QuantizeModel(in, out string, p QuantizeParams) error {
	ft, err := ParseFType(p.FType)
	if err != nil {
		return fmt.Errorf("quantize %s: %w", in, err)
	}
	if FTypeNeedsImatrix(p.FType) && len(p.Imatrix) == 0 {
		return fmt.Errorf("quantize %s to %s: this type needs an importance matrix (QuantizeParams.Imatrix; see Context.CollectImatrix)", in, p.FType)
	}
	if _, err := os.Stat(in); err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	if ai, err1 := filepath.Abs(in); err1 == nil {
		if ao, err2 := filepath.Abs(out); err2 == nil && ai == ao {
			return fmt.Errorf("quantize %s: output is the input file", in)
		}
	}
	if p.Pure {
		// Pure skips llama.cpp's per-tensor fallback for rows its blocks do not
		// divide, and ggml then aborts the process; refuse such input here.
		if err := checkPureShapes(in, p.FType); err != nil {
			return err
		}
	}
	threads := p.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}

	qp := C.llama_model_quantize_default_params()
	qp.nthread = C.int32_t(threads)
	qp.ftype = C.enum_llama_ftype(ft)
	qp.allow_requantize = C.bool(p.AllowRequantize)
	qp.pure = C.bool(p.Pure)
	if len(p.Imatrix) > 0 {
		im := C.pocket_imatrix_new()
		if im == nil {
			return errors.New("quantize: out of memory")
		}
		defer C.pocket_imatrix_free(im)
		for name, v := range p.Imatrix {
			for j, x := range v {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) || x < 0 {
					return fmt.Errorf("quantize %s: imatrix of %s has %v at column %d", in, name, x, j)
				}
			}
			if len(v) == 0 {
				continue
			}
			cname := C.CString(name)
			rc := C.pocket_imatrix_put(im, cname, (*C.float)(unsafe.Pointer(&v[0])), C.long(len(v)))
			C.free(unsafe.Pointer(cname))
			if rc != 0 {
				return errors.New("quantize: out of memory")
			}
		}
		qp.imatrix = im
	}

	tmp, err := os.CreateTemp(filepath.Dir(out), filepath.Base(out)+".pocket-tmp-*")
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpName) // no-op after the rename

	cin, cout := C.CString(in), C.CString(tmpName)
	defer C.free(unsafe.Pointer(cin))
	defer C.free(unsafe.Pointer(cout))
	mark := errMark()
	if rc := C.llama_model_quantize(cin, cout, &qp); rc != 0 {
		return withLlamaErrors(fmt.Sprintf("quantize %s to %s failed", in, p.FType), mark)
	}
	if err := os.Chmod(tmpName, 0o644); err != nil { // CreateTemp made it 0600
		return fmt.Errorf("quantize: %w", err)
	}
	if err := os.Rename(tmpName, out); err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	return nil
}

func checkPureShapes(in, ftype string) error {
	f, err := gguf.Open(in)
	if err != nil {
		return fmt.Errorf("quantize %s: %w", in, err)
	}
	defer f.Close()
	bs := ftypeBlockSize(ftype)
	for _, t := range f.TensorInfos() {
		if len(t.Shape) >= 2 && t.Shape[0]%uint64(bs) != 0 {
			return fmt.Errorf("quantize %s to %s with Pure: tensor %s has rows of %d weights, not a multiple of the %d-weight blocks; drop Pure to let llama.cpp pick fallback types",
				in, ftype, t.Name, t.Shape[0], bs)
		}
	}
	return nil
}
