package bridge

/*
#cgo CXXFLAGS: -O3 -I${SRCDIR}/../build/native/ollama-src/ml/backend/ggml/ggml/include -I${SRCDIR}/../build/native/ollama-src/ml/backend/ggml/ggml/src
#include <stdlib.h>
#include "train.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"unsafe"
)

// TrainConfig is a Llama model's shape for a Trainer.
type TrainConfig struct {
	Dim, Layers, Heads, KVHeads, FF, Vocab, HeadDim, RopeDims int
	RopeBase                                                  float64
	Eps                                                       float32
	Threads                                                   int
}

// Trainer is a Llama forward and backward pass on ggml's CPU backend whose
// matrices may be PQ weights rebuilt in the graph from codes, a table's LUT
// and row scales, with gradients for the LUTs, scales and trainable dense
// tensors. Declare every tensor (Dense, Table, PQ), then Alloc, then Set the
// values; a Trainer is not safe for concurrent use.
type Trainer struct {
	p     *C.pocket_trainer
	sizes map[int][2]int // slot -> element counts of part 0 and part 1
	alloc bool
}

// NewTrainer returns an empty trainer; Close frees it.
func NewTrainer(c TrainConfig) *Trainer {
	cc := C.pocket_train_config{dim: C.int(c.Dim), layers: C.int(c.Layers), heads: C.int(c.Heads), kv_heads: C.int(c.KVHeads),
		ff: C.int(c.FF), vocab: C.int(c.Vocab), head_dim: C.int(c.HeadDim), rope_dims: C.int(c.RopeDims),
		rope_base: C.float(c.RopeBase), eps: C.float(c.Eps), threads: C.int(max(1, c.Threads))}
	t := &Trainer{p: C.pocket_trainer_new(&cc), sizes: map[int][2]int{}}
	runtime.SetFinalizer(t, (*Trainer).Close)
	return t
}

func (t *Trainer) err(what string) error {
	return fmt.Errorf("trainer: %s: %s", what, C.GoString(C.pocket_trainer_error(t.p)))
}

// Dense declares an f32 tensor of ne0 x ne1 (ne1 = 1 for a vector) under its
// llama.cpp name; trainable ones get gradients.
func (t *Trainer) Dense(name string, ne0, ne1 int, trainable bool) int {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	h := int(C.pocket_trainer_dense(t.p, cs, C.int64_t(ne0), C.int64_t(ne1), cbool(trainable)))
	t.sizes[h] = [2]int{ne0 * ne1, 0}
	return h
}

// Table declares a LUT of k entries of v values.
func (t *Trainer) Table(v, k int, trainable bool) int {
	h := int(C.pocket_trainer_table(t.p, C.int64_t(v), C.int64_t(k), cbool(trainable)))
	t.sizes[h] = [2]int{v * k, 0}
	return h
}

// PQ declares a rows x cols weight rebuilt from table's LUT by rows·cols/v
// codes, times its row scales when it has them; wantGrad also keeps the
// gradient of the rebuilt weight (part 1 of Grad).
func (t *Trainer) PQ(name string, rows, cols, table, v int, scales, wantGrad bool) (int, error) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	h := int(C.pocket_trainer_pq(t.p, cs, C.int64_t(cols), C.int64_t(rows), C.int(table), C.int(v), cbool(scales), cbool(wantGrad)))
	if h < 0 {
		return h, t.err(name)
	}
	s := [2]int{0, rows * cols / v}
	if scales {
		s[0] = rows
	}
	t.sizes[h] = s
	return h, nil
}

// Alloc allocates every declared tensor.
func (t *Trainer) Alloc() error {
	if C.pocket_trainer_alloc(t.p) != 0 {
		return t.err("alloc")
	}
	t.alloc = true
	return nil
}

// Set writes a dense tensor's or LUT's values, or a PQ slot's scales.
func (t *Trainer) Set(h int, x []float32) {
	if len(x) != t.sizes[h][0] {
		panic(fmt.Sprintf("trainer: slot %d: %d values, want %d", h, len(x), t.sizes[h][0]))
	}
	C.pocket_trainer_set(t.p, C.int(h), 0, unsafe.Pointer(&x[0]))
}

// SetCodes writes a PQ slot's codes.
func (t *Trainer) SetCodes(h int, codes []int32) {
	if len(codes) != t.sizes[h][1] {
		panic(fmt.Sprintf("trainer: slot %d: %d codes, want %d", h, len(codes), t.sizes[h][1]))
	}
	C.pocket_trainer_set(t.p, C.int(h), 1, unsafe.Pointer(&codes[0]))
}

// Teacher is the reference distribution at each of n tokens: the K most
// likely next tokens' indices and log-probabilities (n x K) and the log of
// the remaining mass (n; -Inf when the K hold all of it).
type Teacher struct {
	K    int
	Idx  []int32
	LogP []float32
	Rest []float32
}

// Run evaluates B sequences of T tokens (tokens is B x T) and returns the
// summed KL divergence of the student from the teacher over all tokens; with
// grad, the gradients of scale times that sum are then read by Grad.
func (t *Trainer) Run(T, B int, tokens []int32, te *Teacher, scale float32, grad bool) (float64, error) {
	if !t.alloc {
		return 0, errors.New("trainer: Run before Alloc")
	}
	n := T * B
	if len(tokens) != n || len(te.Idx) != n*te.K || len(te.LogP) != n*te.K || len(te.Rest) != n {
		return 0, fmt.Errorf("trainer: %d tokens, teacher %d/%d/%d for %d x %d tokens, k %d", len(tokens), len(te.Idx), len(te.LogP), len(te.Rest), B, T, te.K)
	}
	kl := float64(C.pocket_trainer_run(t.p, C.int(T), C.int(B), (*C.int32_t)(&tokens[0]), C.int(te.K),
		(*C.int32_t)(&te.Idx[0]), (*C.float)(&te.LogP[0]), (*C.float)(&te.Rest[0]), C.float(scale), cbool(grad)))
	if math.IsNaN(kl) {
		return kl, t.err("run")
	}
	return kl, nil
}

// Grad reads a slot's gradient from the last Run into dst (part 0: the dense
// tensor, LUT or scales; part 1: a PQ slot's rebuilt weight, rows x cols). It
// reports false, leaving dst alone, when the graph had none.
func (t *Trainer) Grad(h, part int, dst []float32) bool {
	return C.pocket_trainer_grad(t.p, C.int(h), C.int(part), (*C.float)(&dst[0])) != 0
}

// SetThreads sets the compute threads of the next Runs; the results do not
// depend on it.
func (t *Trainer) SetThreads(n int) { C.pocket_trainer_set_threads(t.p, C.int(max(1, n))) }

// Bytes are the model's tensors and the largest compute buffer so far.
func (t *Trainer) Bytes() (static, compute int64) {
	return int64(C.pocket_trainer_static_bytes(t.p)), int64(C.pocket_trainer_compute_bytes(t.p))
}

// Close frees the trainer.
func (t *Trainer) Close() error {
	if t.p != nil {
		C.pocket_trainer_free(t.p)
		t.p = nil
	}
	return nil
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
