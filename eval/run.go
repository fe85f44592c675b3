package eval

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// Options are the knobs of a run, named as llama-perplexity's flags.
type Options struct {
	NCtx   int // -c: tokens per chunk; the second half is scored
	Chunks int // --chunks: at most this many chunks; 0 = all
	// MaxBaseBytes bounds the memory the base log-probs may take; beyond it
	// they go to a temporary file. 0 means 2 GiB.
	MaxBaseBytes int64
	// Encoding, when set, forces how base log-probs are stored.
	Encoding *Encoding
	// Progress, when set, is called after each chunk of each pass.
	Progress func(pass string, done, total int)
}

// Base is the result of the base pass: the evaluation tokens and the base
// model's log-probabilities at every scored position.
type Base struct {
	NCtx, NChunk, NVocab int
	Tokens               []int32 // NChunk·NCtx tokens as in the text (no BOS substitution)
	addBOS               bool
	bos                  int32
	store                *baseStore
}

// First is the first scored position of a chunk: the first half is context.
func (b *Base) First() int { return b.NCtx / 2 }

// PerChunk is the number of positions scored per chunk (n_ctx − 1 − first).
func (b *Base) PerChunk() int { return b.NCtx - 1 - b.First() }

// Encoding reports how the base log-probs are stored.
func (b *Base) Encoding() Encoding { return b.store.enc }

// Close frees the temporary file, if any.
func (b *Base) Close() error { return b.store.Close() }

// chunkTokens is chunk c as it is decoded: its first token replaced by BOS
// when the vocabulary adds one, as perplexity.cpp does.
func (b *Base) chunkTokens(c int) []int32 {
	t := append([]int32(nil), b.Tokens[c*b.NCtx:(c+1)*b.NCtx]...)
	if b.addBOS {
		t[0] = b.bos
	}
	return t
}

// ComputeBase tokenizes text with the base model, cuts it into
// non-overlapping chunks of NCtx tokens and stores the base log-probs of
// the second half of each chunk.
func ComputeBase(src LogitSource, text string, opt Options) (*Base, error) {
	if opt.NCtx < 4 {
		return nil, fmt.Errorf("context size %d too small", opt.NCtx)
	}
	toks, err := src.Tokenize(text)
	if err != nil {
		return nil, fmt.Errorf("tokenizing: %w", err)
	}
	if len(toks) < 2*opt.NCtx {
		return nil, fmt.Errorf("need at least %d tokens for a context of %d, the text tokenizes to %d", 2*opt.NCtx, opt.NCtx, len(toks))
	}
	n := len(toks) / opt.NCtx
	if opt.Chunks > 0 {
		n = min(n, opt.Chunks)
	}
	b := &Base{NCtx: opt.NCtx, NChunk: n, NVocab: src.NVocab(), Tokens: toks[:n*opt.NCtx], addBOS: src.AddBOS(), bos: src.BOS()}
	maxBytes := opt.MaxBaseBytes
	if maxBytes == 0 {
		maxBytes = 2 << 30
	}
	b.store, err = newBaseStore(n*b.PerChunk(), b.NVocab, maxBytes, opt.Encoding)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, b.store.rowBytes)
	for c := 0; c < n; c++ {
		lg, err := b.chunkLogits(src, c)
		if err != nil {
			b.Close()
			return nil, err
		}
		for j := 0; j < b.PerChunk(); j++ {
			tok := b.Tokens[c*b.NCtx+b.First()+j+1]
			if err := b.store.put(lg[j*b.NVocab:(j+1)*b.NVocab], tok, buf); err != nil {
				b.Close()
				return nil, err
			}
		}
		if opt.Progress != nil {
			opt.Progress("base", c+1, n)
		}
	}
	return b, nil
}

// chunkLogits decodes chunk c and checks the shape of what came back.
func (b *Base) chunkLogits(src LogitSource, c int) ([]float32, error) {
	lg, err := src.Logits(b.chunkTokens(c), b.First())
	if err != nil {
		return nil, fmt.Errorf("decoding chunk %d: %w", c+1, err)
	}
	if want := (b.NCtx - b.First()) * b.NVocab; len(lg) != want {
		return nil, fmt.Errorf("chunk %d: %d logits, want %d", c+1, len(lg), want)
	}
	for _, v := range lg {
		if v != v || v > 3e38 || v < -3e38 {
			return nil, fmt.Errorf("chunk %d: the model produced a non-finite logit", c+1)
		}
	}
	return lg, nil
}

// BaseStats is PPL(base) from the stored figures alone (a model compared
// with nothing): the same numbers Compare reports as PPLBase.
func (b *Base) BaseStats() ValErr {
	var a Accumulator
	for _, m := range b.store.meta {
		a.sumBase += m.nllBase
		a.sumBase2 += m.nllBase * m.nllBase
		a.count++
	}
	return a.Stats().PPLBase
}

// Compare runs the test model over the same chunks and returns the
// statistics of its distributions against the base's.
func (b *Base) Compare(src LogitSource, opt Options) (Stats, error) {
	if src.NVocab() != b.NVocab {
		return Stats{}, fmt.Errorf("vocabulary of %d tokens, the base model has %d", src.NVocab(), b.NVocab)
	}
	var acc Accumulator
	per := b.PerChunk()
	points := make([]Point, per)
	workers := min(runtime.GOMAXPROCS(0), per)
	for c := 0; c < b.NChunk; c++ {
		lg, err := b.chunkLogits(src, c)
		if err != nil {
			return Stats{}, err
		}
		// Positions are independent: score them in parallel, add in order.
		var wg sync.WaitGroup
		errs := make([]error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				logp := make([]float32, b.NVocab)
				buf := make([]byte, b.store.rowBytes)
				for j := w; j < per; j += workers {
					r := c*per + j
					if err := b.store.get(r, logp, buf); err != nil {
						errs[w] = err
						return
					}
					tok := b.Tokens[c*b.NCtx+b.First()+j+1]
					points[j] = scorePosition(logp, b.store.floor(), b.store.meta[r], lg[j*b.NVocab:(j+1)*b.NVocab], tok)
				}
			}(w)
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return Stats{}, err
		}
		for _, p := range points {
			acc.Add(p)
		}
		if opt.Progress != nil {
			opt.Progress("test", c+1, b.NChunk)
		}
	}
	return acc.Stats(), nil
}
