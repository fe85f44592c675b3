package bridge

// #include <stdlib.h>
// #include "ggml-pq.h"
// #include "native.h"
import "C"

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"unsafe"
)

// ErrClosed is returned by methods of a closed Model or Context.
var ErrClosed = errors.New("bridge: use after Close")

// ModelParams are the load options (llama_model_params).
type ModelParams struct {
	// UseMmap maps the file instead of reading it (llama.cpp's default; Ollama
	// reads). The zero value reads.
	UseMmap bool
	// NGPULayers is the number of layers to offload; this build has only the
	// CPU backend, so it must be 0.
	NGPULayers int
	// VocabOnly loads the vocabulary and no weights (tokenizer use).
	VocabOnly bool
	// CheckTensors validates tensor data while loading (slower).
	CheckTensors bool
}

// ModelInfo describes a loaded model.
type ModelInfo struct {
	Arch        string // general.architecture
	Description string // llama_model_desc, e.g. "llama ?B all F32"
	NVocab      int
	NCtxTrain   int
	NEmbd       int
	NLayer      int
	NHead       int
	NParams     uint64 // parameter count
	Size        uint64 // bytes of all weights
}

// Model is a loaded llama_model. Its methods are safe for concurrent use.
type Model struct {
	h    *modelHandle
	path string
	info ModelInfo
}

// modelHandle owns the C pointers; the finalizer works on it, never on Model,
// so that contexts (which keep their Model alive) and the model are freed in a
// safe order whichever is collected first.
type modelHandle struct {
	mu       sync.RWMutex // write: free, context set; read: vocab and metadata calls
	c        *C.struct_llama_model
	vocab    *C.struct_llama_vocab
	contexts map[*ctxHandle]struct{}
	cleanup  runtime.Cleanup
}

// LoadModel loads a GGUF model file.
func LoadModel(path string, p ModelParams) (*Model, error) {
	if p.NGPULayers != 0 {
		return nil, fmt.Errorf("load %s: NGPULayers=%d, but this build has only the CPU backend", path, p.NGPULayers)
	}
	// Checked here so that the common mistakes get a plain Go message.
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("load model %s: is a directory", path)
	}
	if err := checkTableBits(); err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	mp := C.llama_model_default_params()
	mp.n_gpu_layers = 0
	mp.use_mmap = C.bool(p.UseMmap)
	mp.vocab_only = C.bool(p.VocabOnly)
	mp.check_tensors = C.bool(p.CheckTensors)

	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	mark := errMark()
	cm := C.llama_model_load_from_file(cpath, mp)
	if cm == nil {
		return nil, withLlamaErrors(fmt.Sprintf("load model %s: not a loadable GGUF model", path), mark)
	}
	h := &modelHandle{c: cm, vocab: C.llama_model_get_vocab(cm), contexts: map[*ctxHandle]struct{}{}}
	m := &Model{h: h, path: path}
	m.info = m.readInfo()
	h.cleanup = runtime.AddCleanup(m, func(h *modelHandle) { h.free() }, h)
	return m, nil
}

// TableBitsEnv is the environment variable that chooses the additive types' activation tables:
// 8 (int8, the fast default) or 16 (products within about 3e-5 of the unpacked F32 twin's, at
// about twice the kernel's time; docs/RUNTIME.md).
const TableBitsEnv = "GGML_PQA_TABLE_BITS"

// checkTableBits refuses a bad TableBitsEnv with an error: ggml reads it at the first product
// and would abort there. The rule is ggml-ext's own (ggml_pqa_parse_table_bits).
func checkTableBits() error {
	v := os.Getenv(TableBitsEnv)
	cv := C.CString(v)
	defer C.free(unsafe.Pointer(cv))
	if C.ggml_pqa_parse_table_bits(cv) == 0 {
		return fmt.Errorf("%s=%q: want 8 (int8 activation tables, the default) or 16", TableBitsEnv, v)
	}
	return nil
}

func (m *Model) readInfo() ModelInfo {
	c := m.h.c
	buf := make([]byte, 256)
	n := C.llama_model_desc(c, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	desc := ""
	if n > 0 {
		desc = string(buf[:min(int(n), len(buf)-1)])
	}
	arch, _ := m.meta(c, "general.architecture")
	return ModelInfo{
		Arch:        arch,
		Description: desc,
		NVocab:      int(C.llama_vocab_n_tokens(m.h.vocab)),
		NCtxTrain:   int(C.llama_model_n_ctx_train(c)),
		NEmbd:       int(C.llama_model_n_embd(c)),
		NLayer:      int(C.llama_model_n_layer(c)),
		NHead:       int(C.llama_model_n_head(c)),
		NParams:     uint64(C.llama_model_n_params(c)),
		Size:        uint64(C.llama_model_size(c)),
	}
}

func (m *Model) meta(c *C.struct_llama_model, key string) (string, bool) {
	ckey := C.CString(key)
	defer C.free(unsafe.Pointer(ckey))
	buf := make([]byte, 512)
	for {
		n := int(C.llama_model_meta_val_str(c, ckey, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf))))
		if n < 0 {
			return "", false
		}
		if n < len(buf) {
			return string(buf[:n]), true
		}
		buf = make([]byte, n+1)
	}
}

// Meta returns a metadata value as a string (arrays are not returned).
func (m *Model) Meta(key string) (string, bool) {
	m.h.mu.RLock()
	defer m.h.mu.RUnlock()
	if m.h.c == nil {
		return "", false
	}
	return m.meta(m.h.c, key)
}

// Info describes the model.
func (m *Model) Info() ModelInfo { return m.info }

// Path is the file the model was loaded from.
func (m *Model) Path() string { return m.path }

// Close frees the model and every context created from it. Further calls on
// them return ErrClosed. Close is idempotent.
func (m *Model) Close() error {
	m.h.cleanup.Stop()
	m.h.free()
	return nil
}

func (h *modelHandle) free() {
	h.mu.Lock()
	ctxs := make([]*ctxHandle, 0, len(h.contexts))
	for c := range h.contexts {
		ctxs = append(ctxs, c)
	}
	h.mu.Unlock()
	for _, c := range ctxs {
		c.free()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.c != nil {
		C.llama_model_free(h.c)
		h.c, h.vocab = nil, nil
	}
}

// withVocab runs f with the vocabulary, holding the model open meanwhile.
func (m *Model) withVocab(f func(v *C.struct_llama_vocab) error) error {
	m.h.mu.RLock()
	defer m.h.mu.RUnlock()
	if m.h.vocab == nil {
		return ErrClosed
	}
	return f(m.h.vocab)
}
