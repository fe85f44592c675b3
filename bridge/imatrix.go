package bridge

// #include "native.h"
import "C"

import (
	"errors"
	"fmt"
	"runtime/cgo"
	"sort"
	"sync"
	"unsafe"
)

// Imatrix accumulates, for every weight a model multiplies, statistics of the
// weight's input over calibration text, as llama-imatrix does: per input column
// j the sum of x_j² over all input rows (tokens), and the number of rows. Their
// quotient, the mean of x², is the importance llama_model_quantize takes.
// For a mixture-of-experts weight (ne2 = experts) columns and counts are per
// expert: column e*ne0 + j, count e.
type Imatrix struct {
	mu      sync.Mutex
	Tensors map[string]*ImatrixTensor
	Skipped map[string]string // weights whose input could not be read, and why

	// CovMaxCols > 0 also accumulates the full input covariance Σ x·xᵀ of
	// every dense weight whose input is at most that wide (what GPTQ-style
	// error feedback needs), while the covariances fit in CovBudget bytes
	// (0: no limit); weights seen once the budget is spent get only SumSq.
	CovMaxCols int
	CovBudget  int64
	covBytes   int64
	// xT is the covariance update's transposed rows, reused across calls
	// (a 4096-wide input over a 512-token ubatch is 16 MiB a weight).
	xT []float64
}

// ImatrixTensor holds one weight's statistics.
type ImatrixTensor struct {
	SumSq []float64 // ne0 × experts
	Count []int64   // rows seen, one per expert (one entry for a dense weight)
	Cov   []float64 // ne0 × ne0, upper triangle filled (nil unless CovMaxCols allowed it)
}

// NewImatrix returns an empty accumulator.
func NewImatrix() *Imatrix {
	return &Imatrix{Tensors: map[string]*ImatrixTensor{}, Skipped: map[string]string{}}
}

// Mean returns the mean of x² per column (0 where an expert saw no rows).
func (t *ImatrixTensor) Mean() []float32 {
	out := make([]float32, len(t.SumSq))
	ne0 := len(t.SumSq) / len(t.Count)
	for j, s := range t.SumSq {
		if n := t.Count[j/ne0]; n > 0 {
			out[j] = float32(s / float64(n))
		}
	}
	return out
}

// Means returns Mean of every tensor, keyed by weight name: the form Quantize takes.
func (m *Imatrix) Means() map[string][]float32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string][]float32, len(m.Tensors))
	for name, t := range m.Tensors {
		out[name] = t.Mean()
	}
	return out
}

// Covariances returns, for every weight with a full covariance, the mean
// x·xᵀ of its input (ne0 × ne0, row-major, symmetric), keyed by weight name.
func (m *Imatrix) Covariances() map[string][]float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]float64{}
	for name, t := range m.Tensors {
		if t.Cov == nil || t.Count[0] == 0 {
			continue
		}
		n := len(t.SumSq)
		c := make([]float64, n*n)
		inv := 1 / float64(t.Count[0])
		for i := 0; i < n; i++ {
			for j := i; j < n; j++ {
				c[i*n+j] = t.Cov[i*n+j] * inv
				c[j*n+i] = c[i*n+j]
			}
		}
		out[name] = c
	}
	return out
}

// Names lists the weights with statistics, sorted.
func (m *Imatrix) Names() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.Tensors))
	for n := range m.Tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// CollectImatrix clears the context, decodes tokens (at most NCtx) and adds the
// input statistics of every weight mat-mul to into. Call it once per chunk of
// calibration text, as llama-imatrix does (each chunk usually starts with BOS).
func (c *Context) CollectImatrix(tokens []Token, into *Imatrix) error {
	if into == nil {
		return errors.New("imatrix: nil accumulator")
	}
	h := c.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.c == nil {
		return ErrClosed
	}
	if len(tokens) > h.nCtx {
		return fmt.Errorf("imatrix: %d tokens > n_ctx %d; split the text into chunks", len(tokens), h.nCtx)
	}
	handle := cgo.NewHandle(into)
	defer handle.Delete()
	if err := h.clear(); err != nil {
		return err
	}
	h.state.imatrix = C.uintptr_t(handle)
	h.state.collect = 1
	defer func() { h.state.collect, h.state.imatrix = 0, 0 }()
	_, err := h.decode(tokens, allNoLogits)
	return err
}

//export pocketGoImatrixAdd
func pocketGoImatrixAdd(handle C.uintptr_t, name *C.char, nExpert C.int64_t, typ C.int,
	data unsafe.Pointer, ne *C.int64_t, nb *C.int64_t, ids unsafe.Pointer, idsNe *C.int64_t, idsNb1 C.int64_t) {
	m := cgo.Handle(handle).Value().(*Imatrix)
	wname := C.GoString(name)
	xne := unsafe.Slice((*int64)(unsafe.Pointer(ne)), 4)
	xnb := unsafe.Slice((*int64)(unsafe.Pointer(nb)), 4)
	m.mu.Lock()
	defer m.mu.Unlock()
	if C.enum_ggml_type(typ) != C.GGML_TYPE_F32 {
		m.Skipped[wname] = fmt.Sprintf("input type %s, not f32", C.GoString(C.ggml_type_name(C.enum_ggml_type(typ))))
		return
	}
	ne0 := xne[0]
	experts := int64(1)
	if ids != nil {
		experts = int64(nExpert)
	}
	t := m.Tensors[wname]
	if t == nil {
		t = &ImatrixTensor{SumSq: make([]float64, ne0*experts), Count: make([]int64, experts)}
		if ids == nil && m.CovMaxCols > 0 && ne0 <= int64(m.CovMaxCols) &&
			(m.CovBudget <= 0 || m.covBytes+8*ne0*ne0 <= m.CovBudget) {
			t.Cov = make([]float64, ne0*ne0)
			m.covBytes += 8 * ne0 * ne0
		}
		m.Tensors[wname] = t
	}
	if int64(len(t.SumSq)) != ne0*experts {
		m.Skipped[wname] = fmt.Sprintf("input width changed from %d to %d", len(t.SumSq), ne0*experts)
		return
	}
	row := func(i1, i2, i3 int64) []float32 {
		off := i1*xnb[1] + i2*xnb[2] + i3*xnb[3]
		return unsafe.Slice((*float32)(unsafe.Add(data, off)), ne0)
	}
	add := func(e int64, x []float32) {
		s := t.SumSq[e*ne0 : (e+1)*ne0]
		for j, v := range x {
			s[j] += float64(v) * float64(v)
		}
		t.Count[e]++
	}
	if ids == nil {
		n := xne[1] * xne[2] * xne[3]
		var xT []float64 // the rows transposed, for the covariance; every entry is written below
		if t.Cov != nil {
			if int64(cap(m.xT)) < ne0*n {
				m.xT = make([]float64, ne0*n)
			}
			xT = m.xT[:ne0*n]
		}
		k := int64(0)
		for i3 := int64(0); i3 < xne[3]; i3++ {
			for i2 := int64(0); i2 < xne[2]; i2++ {
				for i1 := int64(0); i1 < xne[1]; i1++ {
					x := row(i1, i2, i3)
					add(0, x)
					if xT != nil {
						for j, v := range x {
							xT[int64(j)*n+k] = float64(v)
						}
					}
					k++
				}
			}
		}
		if xT != nil {
			addOuterUpperParallel(t.Cov, xT, int(ne0), int(n))
		}
		return
	}
	// mul_mat_id: ids is [n_used, n_tokens] of expert numbers; input row (k mod
	// ne1, t) feeds expert ids[k, t].
	ine := unsafe.Slice((*int64)(unsafe.Pointer(idsNe)), 2)
	for tok := int64(0); tok < ine[1]; tok++ {
		ex := unsafe.Slice((*int32)(unsafe.Add(ids, tok*int64(idsNb1))), ine[0])
		for k, e := range ex {
			if e < 0 || int64(e) >= experts {
				continue
			}
			add(int64(e), row(int64(k)%xne[1], tok, 0))
		}
	}
}
