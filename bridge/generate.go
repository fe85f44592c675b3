package bridge

// #include "native.h"
import "C"

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"
)

// GenerateOptions control Generate.
type GenerateOptions struct {
	NPredict     int  // most tokens to generate; <= 0: until end of generation or a full context
	NoSpecial    bool // do not add BOS/EOS to the prompt
	ParseSpecial bool // tokenize control-token text in the prompt as those tokens
	Sampler      SamplerParams
}

// StopReason says why generation ended.
type StopReason string

const (
	StopEOG    StopReason = "eog"     // the model produced an end-of-generation token
	StopLength StopReason = "length"  // NPredict tokens were generated
	StopFull   StopReason = "context" // the context is full
)

// GenerateResult summarises one Generate call.
type GenerateResult struct {
	PromptTokens int
	Tokens       int // generated tokens, the end-of-generation token not counted
	Stop         StopReason
}

// Generate clears the context, decodes prompt, then samples up to NPredict tokens,
// calling fn with the text of each (whole UTF-8 characters: bytes of a character
// split across tokens are held back until it is complete). It stops early when fn
// returns an error (returned as is) or ctx is done (ctx.Err() is returned, also
// when it ends a llama_decode already running).
func (c *Context) Generate(ctx context.Context, prompt string, opts GenerateOptions, fn func(piece string) error) (GenerateResult, error) {
	var res GenerateResult
	s, err := NewSampler(opts.Sampler)
	if err != nil {
		return res, err
	}
	defer s.Close()
	tokens, err := c.model.Tokenize(prompt, !opts.NoSpecial, opts.ParseSpecial)
	if err != nil {
		return res, err
	}
	if len(tokens) == 0 {
		return res, errors.New("generate: empty prompt (and the model adds no BOS)")
	}
	res.PromptTokens = len(tokens)

	h := c.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.c == nil {
		return res, ErrClosed
	}
	if len(tokens) >= h.nCtx {
		return res, fmt.Errorf("%w: prompt of %d tokens, n_ctx %d", ErrContextFull, len(tokens), h.nCtx)
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	// A cancelled ctx raises the abort flag, which stops a running llama_decode.
	h.setAbort(false)
	aborted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		h.setAbort(true)
		close(aborted)
	})
	defer func() {
		if !stop() {
			<-aborted // it ran: wait until the flag is set, then lower it
		}
		h.setAbort(false)
	}()
	ctxErr := func(err error) error {
		if errors.Is(err, errAborted) && ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}

	if err := h.clear(); err != nil {
		return res, err
	}
	if _, err := h.decode(tokens, lastLogits); err != nil {
		return res, ctxErr(err)
	}
	var pending []byte // bytes of an incomplete UTF-8 character
	for {
		if opts.NPredict > 0 && res.Tokens >= opts.NPredict {
			res.Stop = StopLength
			break
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		tok, err := s.sample(h)
		if err != nil {
			return res, err
		}
		if bool(C.llama_vocab_is_eog(h.model.vocab, C.llama_token(tok))) {
			res.Stop = StopEOG
			break
		}
		res.Tokens++
		pending = append(pending, tokenToPiece(h.model.vocab, tok, false)...)
		if text := completeUTF8(&pending); text != "" {
			if err := fn(text); err != nil {
				return res, err
			}
		}
		if h.nPast >= h.nCtx {
			res.Stop = StopFull
			break
		}
		if _, err := h.decode([]Token{tok}, lastLogits); err != nil {
			return res, ctxErr(err)
		}
	}
	if len(pending) > 0 {
		if err := fn(string(pending)); err != nil {
			return res, err
		}
	}
	return res, nil
}

// completeUTF8 removes and returns the longest prefix of *b that does not end
// inside a UTF-8 character; invalid bytes pass through rather than stall.
func completeUTF8(b *[]byte) string {
	buf := *b
	end := len(buf)
	// Look back at most 3 bytes for the start of an unfinished character.
	for i := len(buf) - 1; i >= 0 && i >= len(buf)-3; i-- {
		if utf8.RuneStart(buf[i]) {
			if !utf8.FullRune(buf[i:]) {
				end = i
			}
			break
		}
	}
	out := string(buf[:end])
	*b = append(buf[:0], buf[end:]...)
	return out
}
