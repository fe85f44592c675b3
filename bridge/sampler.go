package bridge

// #include "native.h"
import "C"

import (
	"fmt"
	"math"
	"runtime"
)

// SamplerParams choose the next token (a llama_sampler_chain). Temp <= 0 means
// greedy (argmax) and ignores the rest. Otherwise the chain is, as llama.cpp's
// common sampler orders them: top-k, top-p, min-p, temperature, then a draw
// with Seed.
type SamplerParams struct {
	Temp float32 // temperature; <= 0: greedy
	TopK int     // keep the K most likely tokens; <= 0: off
	TopP float32 // keep the smallest set with probability >= P; 0 or >= 1: off
	MinP float32 // drop tokens below MinP × the top probability; <= 0: off
	Seed uint32  // seed of the draw; same seed, same tokens
}

func (p SamplerParams) validate() error {
	for name, v := range map[string]float32{"temperature": p.Temp, "top-p": p.TopP, "min-p": p.MinP} {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("sampler: %s is %v", name, v)
		}
	}
	if p.TopP < 0 || p.MinP > 1 {
		return fmt.Errorf("sampler: top-p %v / min-p %v outside [0,1]", p.TopP, p.MinP)
	}
	return nil
}

// Sampler is a llama_sampler chain. Not safe for concurrent use.
type Sampler struct {
	c       *C.struct_llama_sampler
	cleanup runtime.Cleanup
}

// NewSampler builds the chain for p.
func NewSampler(p SamplerParams) (*Sampler, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	chain := C.llama_sampler_chain_init(C.llama_sampler_chain_default_params())
	add := func(s *C.struct_llama_sampler) { C.llama_sampler_chain_add(chain, s) }
	if p.Temp <= 0 {
		add(C.llama_sampler_init_greedy())
	} else {
		if p.TopK > 0 {
			add(C.llama_sampler_init_top_k(C.int32_t(p.TopK)))
		}
		if p.TopP > 0 && p.TopP < 1 {
			add(C.llama_sampler_init_top_p(C.float(p.TopP), 1))
		}
		if p.MinP > 0 {
			add(C.llama_sampler_init_min_p(C.float(p.MinP), 1))
		}
		add(C.llama_sampler_init_temp(C.float(p.Temp)))
		add(C.llama_sampler_init_dist(C.uint32_t(p.Seed)))
	}
	s := &Sampler{c: chain}
	s.cleanup = runtime.AddCleanup(s, func(c *C.struct_llama_sampler) { C.llama_sampler_free(c) }, chain)
	return s, nil
}

// Close frees the sampler; idempotent.
func (s *Sampler) Close() {
	if s.c != nil {
		s.cleanup.Stop()
		C.llama_sampler_free(s.c)
		s.c = nil
	}
}

// Reset forgets accepted tokens and restarts the random stream from the seed.
func (s *Sampler) Reset() {
	if s.c != nil {
		C.llama_sampler_reset(s.c)
	}
}

// Sample picks a token from the logits of the context's last decoded token and
// records it as accepted.
func (s *Sampler) Sample(c *Context) (Token, error) {
	if s.c == nil {
		return 0, ErrClosed
	}
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	return s.sample(c.h)
}

func (s *Sampler) sample(h *ctxHandle) (Token, error) {
	if h.c == nil {
		return 0, ErrClosed
	}
	if h.nPast == 0 {
		return 0, fmt.Errorf("sample: nothing decoded yet")
	}
	return Token(C.llama_sampler_sample(s.c, h.c, -1)), nil
}
