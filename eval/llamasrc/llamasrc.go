// Package llamasrc adapts a bridge (libllama) model to eval.LogitSource: one
// context of n_ctx tokens, emptied before every chunk, as llama-perplexity
// clears its KV cache per chunk.
package llamasrc

import (
	"fmt"

	"github.com/pocketgguf/pocketgguf/bridge"
)

// Model is a loaded GGUF with one context.
type Model struct {
	m      *bridge.Model
	c      *bridge.Context
	nv     int
	bos    int32
	addBOS bool
}

// Open loads path and makes a context of nctx tokens decoding in one batch.
func Open(path string, nctx, threads int) (*Model, error) {
	m, err := bridge.LoadModel(path, bridge.ModelParams{})
	if err != nil {
		return nil, err
	}
	c, err := m.NewContext(bridge.ContextParams{NCtx: nctx, NBatch: nctx, Threads: threads})
	if err != nil {
		m.Close()
		return nil, err
	}
	// Whether the vocabulary adds a BOS is what tokenizing "" with
	// add_special says (llama_vocab_get_add_bos is not exposed).
	empty, err := m.Tokenize("", true, false)
	if err != nil {
		m.Close()
		return nil, err
	}
	bos := m.BOS()
	return &Model{m: m, c: c, nv: m.Info().NVocab, bos: bos, addBOS: len(empty) > 0 && empty[0] == bos && bos >= 0}, nil
}

// Close frees the context and the model.
func (s *Model) Close() error { return s.m.Close() }

// Bridge is the underlying model (for generation, imatrix collection).
func (s *Model) Bridge() *bridge.Model { return s.m }

func (s *Model) NVocab() int  { return s.nv }
func (s *Model) AddBOS() bool { return s.addBOS }
func (s *Model) BOS() int32   { return s.bos }

// Tokenize as common_tokenize(ctx, text, add_special=true, parse_special=false).
func (s *Model) Tokenize(text string) ([]int32, error) { return s.m.Tokenize(text, true, false) }

// Logits decodes tokens from position 0 and returns rows first.. of the logits.
func (s *Model) Logits(tokens []int32, first int) ([]float32, error) {
	if err := s.c.ClearMemory(); err != nil {
		return nil, err
	}
	lg, err := s.c.Decode(tokens, true)
	if err != nil {
		return nil, err
	}
	if len(lg) != len(tokens)*s.nv {
		return nil, fmt.Errorf("decode returned %d logits for %d tokens of vocabulary %d", len(lg), len(tokens), s.nv)
	}
	return lg[first*s.nv:], nil
}
