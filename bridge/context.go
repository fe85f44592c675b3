package bridge

// #include <stdlib.h>
// #include "native.h"
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// ContextParams are the options of a new context (llama_context_params).
type ContextParams struct {
	NCtx       int  // context length in tokens; 0: the model's training length
	NBatch     int  // most tokens one llama_decode takes; 0: min(512, NCtx)
	Threads    int  // compute threads; 0: runtime.NumCPU()
	Embeddings bool // also extract embeddings (Context.Embeddings)
	// FlashAttn: "" or "off" (as Ollama runs unless OLLAMA_FLASH_ATTENTION is
	// set), "on", or "auto" (llama.cpp's default). On the CPU, flash attention is
	// slower for small heads: 4.6x for stories260K's 8-wide heads (bench_test.go).
	FlashAttn string
}

// ErrContextFull is returned when a decode would go past the context length.
var ErrContextFull = errors.New("bridge: context is full")

// Context is a llama_context: a KV cache and compute buffers on a Model. Its
// methods serialise on a mutex; see the package documentation.
type Context struct {
	h     *ctxHandle
	model *Model // keeps the model alive while the context is reachable
}

type ctxHandle struct {
	mu      sync.Mutex
	c       *C.struct_llama_context
	state   *C.pocket_ctx_state
	model   *modelHandle
	nCtx    int
	nBatch  int
	nVocab  int
	nEmbd   int
	embd    bool
	nPast   int
	cleanup runtime.Cleanup
}

// NewContext creates a context on the model.
func (m *Model) NewContext(p ContextParams) (*Context, error) {
	if p.NCtx < 0 || p.NBatch < 0 || p.Threads < 0 {
		return nil, fmt.Errorf("new context: negative NCtx/NBatch/Threads (%d/%d/%d)", p.NCtx, p.NBatch, p.Threads)
	}
	cp := C.llama_context_default_params()
	nCtx := p.NCtx
	if nCtx == 0 {
		nCtx = m.info.NCtxTrain
	}
	nBatch := p.NBatch
	if nBatch == 0 {
		nBatch = min(512, nCtx)
	}
	threads := p.Threads
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	cp.n_ctx = C.uint32_t(nCtx)
	cp.n_batch = C.uint32_t(nBatch)
	cp.n_ubatch = C.uint32_t(nBatch)
	cp.n_seq_max = 1
	cp.n_threads = C.int32_t(threads)
	cp.n_threads_batch = C.int32_t(threads)
	cp.embeddings = C.bool(p.Embeddings)
	cp.no_perf = true
	switch p.FlashAttn {
	case "", "off":
		cp.flash_attn_type = C.LLAMA_FLASH_ATTN_TYPE_DISABLED
	case "on":
		cp.flash_attn_type = C.LLAMA_FLASH_ATTN_TYPE_ENABLED
	case "auto":
		cp.flash_attn_type = C.LLAMA_FLASH_ATTN_TYPE_AUTO
	default:
		return nil, fmt.Errorf("new context: FlashAttn %q; want auto, on or off", p.FlashAttn)
	}

	state := C.pocket_ctx_state_new()
	if state == nil {
		return nil, errors.New("new context: out of memory")
	}
	C.pocket_ctx_params_hook(&cp, state)

	m.h.mu.Lock()
	defer m.h.mu.Unlock()
	if m.h.c == nil {
		C.free(unsafe.Pointer(state))
		return nil, ErrClosed
	}
	mark := errMark()
	cc := C.llama_init_from_model(m.h.c, cp)
	if cc == nil {
		C.free(unsafe.Pointer(state))
		return nil, withLlamaErrors(fmt.Sprintf("new context on %s (n_ctx=%d, n_batch=%d)", m.path, nCtx, nBatch), mark)
	}
	h := &ctxHandle{c: cc, state: state, model: m.h, nCtx: int(C.llama_n_ctx(cc)), nBatch: int(C.llama_n_batch(cc)),
		nVocab: m.info.NVocab, nEmbd: m.info.NEmbd, embd: p.Embeddings}
	m.h.contexts[h] = struct{}{}
	c := &Context{h: h, model: m}
	h.cleanup = runtime.AddCleanup(c, func(h *ctxHandle) { h.free() }, h)
	return c, nil
}

func (h *ctxHandle) free() {
	h.mu.Lock()
	if h.c != nil {
		C.llama_free(h.c)
		C.free(unsafe.Pointer(h.state))
		h.c, h.state = nil, nil
	}
	h.mu.Unlock()
	h.model.mu.Lock()
	delete(h.model.contexts, h)
	h.model.mu.Unlock()
}

// Close frees the context. It is idempotent.
func (c *Context) Close() error {
	c.h.cleanup.Stop()
	c.h.free()
	return nil
}

// Model is the model the context runs.
func (c *Context) Model() *Model { return c.model }

// NCtx is the context length in tokens.
func (c *Context) NCtx() int { return c.h.nCtx }

// NBatch is the most tokens one llama_decode call takes; Decode splits longer input.
func (c *Context) NBatch() int { return c.h.nBatch }

// NPast is the number of tokens in the context's memory (the next position).
func (c *Context) NPast() int {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	return c.h.nPast
}

// ClearMemory empties the KV cache; the next Decode starts at position 0.
func (c *Context) ClearMemory() error {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	return c.h.clear()
}

func (h *ctxHandle) clear() error {
	if h.c == nil {
		return ErrClosed
	}
	C.llama_memory_clear(C.llama_get_memory(h.c), true)
	h.nPast = 0
	return nil
}

// Decode appends tokens to the context (positions NPast, NPast+1, ...) and
// returns logits: for every token when all is set (len(tokens) rows of NVocab
// floats, row i predicting the token after tokens[i]), else for the last token
// only (NVocab floats). Input longer than NBatch is decoded in pieces.
func (c *Context) Decode(tokens []Token, all bool) ([]float32, error) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	mode := lastLogits
	if all {
		mode = allLogits
	}
	return c.h.decode(tokens, mode)
}

// outputs says which positions llama_decode computes the output layer for, and
// which logits decode returns.
type outputs int

const (
	lastLogits  outputs = iota // compute and return the last position's
	allLogits                  // compute and return every position's
	allNoLogits                // compute every position's, return none (imatrix of output.weight)
)

func (h *ctxHandle) decode(tokens []Token, mode outputs) ([]float32, error) {
	if h.c == nil {
		return nil, ErrClosed
	}
	if len(tokens) == 0 {
		return nil, errors.New("decode: no tokens")
	}
	if h.nPast+len(tokens) > h.nCtx {
		return nil, fmt.Errorf("%w: %d tokens in memory + %d new > n_ctx %d", ErrContextFull, h.nPast, len(tokens), h.nCtx)
	}
	if err := checkTokens(h.model.vocab, tokens); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	var out []float32
	if mode == allLogits {
		out = make([]float32, 0, len(tokens)*h.nVocab)
	}
	batch := C.llama_batch_init(C.int32_t(min(len(tokens), h.nBatch)), 0, 1)
	defer C.llama_batch_free(batch)
	for start := 0; start < len(tokens); start += h.nBatch {
		piece := tokens[start:min(start+h.nBatch, len(tokens))]
		last := start+len(piece) == len(tokens)
		n := len(piece)
		tok := unsafe.Slice(batch.token, n)
		pos := unsafe.Slice(batch.pos, n)
		nseq := unsafe.Slice(batch.n_seq_id, n)
		seq := unsafe.Slice(batch.seq_id, n)
		logits := unsafe.Slice(batch.logits, n)
		for i, t := range piece {
			tok[i] = C.llama_token(t)
			pos[i] = C.llama_pos(h.nPast + i)
			nseq[i] = 1
			*seq[i] = 0
			logits[i] = 0
			if mode != lastLogits || (last && i == n-1) {
				logits[i] = 1
			}
		}
		batch.n_tokens = C.int32_t(n)
		mark := errMark()
		rc := C.llama_decode(h.c, batch)
		switch {
		case rc == 2:
			return nil, errAborted
		case rc == 1:
			return nil, withLlamaErrors("decode: no room in the KV cache", mark)
		case rc != 0:
			return nil, withLlamaErrors(fmt.Sprintf("decode: llama_decode returned %d", int(rc)), mark)
		}
		h.nPast += n
		switch {
		case mode == allLogits:
			src := unsafe.Slice((*float32)(unsafe.Pointer(C.llama_get_logits(h.c))), n*h.nVocab)
			out = append(out, src...)
		case mode == lastLogits && last:
			p := C.llama_get_logits_ith(h.c, -1)
			if p == nil {
				return nil, withLlamaErrors("decode: no logits", mark)
			}
			out = append([]float32(nil), unsafe.Slice((*float32)(unsafe.Pointer(p)), h.nVocab)...)
		}
	}
	return out, nil
}

// errAborted is what decode returns when its abort flag stopped it; Generate
// turns it into the context's error.
var errAborted = errors.New("decode: aborted")

// Embeddings returns the embedding of the last decoded token (NEmbd floats);
// the context must have been created with Embeddings set.
func (c *Context) Embeddings() ([]float32, error) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	if c.h.c == nil {
		return nil, ErrClosed
	}
	if !c.h.embd {
		return nil, errors.New("embeddings: context created without ContextParams.Embeddings")
	}
	p := C.llama_get_embeddings_ith(c.h.c, -1)
	if p == nil {
		return nil, errors.New("embeddings: none available (decode first)")
	}
	return append([]float32(nil), unsafe.Slice((*float32)(unsafe.Pointer(p)), c.h.nEmbd)...), nil
}

// setAbort raises or lowers the flag that libllama's abort callback reads
// between graph nodes; a raised flag makes llama_decode return 2 (errAborted).
func (h *ctxHandle) setAbort(up bool) {
	v := C.int(0)
	if up {
		v = 1
	}
	C.pocket_ctx_state_set_abort(h.state, v)
}
