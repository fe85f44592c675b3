// Package llamacalib collects calibration statistics (package calib) by
// running a model through the linked libllama (bridge, cgo): the importance
// matrix and input covariances over a text, and the text itself sampled
// from the model for data-free calibration.
package llamacalib

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pocketgguf/pocketgguf/bridge"
	"github.com/pocketgguf/pocketgguf/calib"
	"github.com/pocketgguf/pocketgguf/eval/llamasrc"
	"github.com/pocketgguf/pocketgguf/progress"
)

// Options say how the model runs over calibration text.
type Options struct {
	Ctx     int // tokens per chunk (the CLI's default is calib.DefaultCtx)
	Chunks  int // at most this many chunks (0: all the text; SelfText needs >= 1)
	Threads int // 0: all cores
	// CovMaxCols > 0 also collects the input covariance of weights whose
	// input is at most that wide, within CovBudget bytes in all.
	CovMaxCols int
	CovBudget  int64
	// Progress reports chunks; nil: a line on stderr unless Quiet.
	Progress *progress.Terminal
	Quiet    bool
}

func (o Options) threads() int {
	if o.Threads <= 0 {
		return runtime.NumCPU()
	}
	return o.Threads
}

func (o Options) progress(label string) *progress.Terminal {
	pr := o.Progress
	if pr == nil {
		pr = progress.New(os.Stderr, o.Quiet)
	}
	pr.SetLabel(label)
	return pr
}

// Collect runs model over text and returns its importance matrix (and
// covariances when o.CovMaxCols > 0); source names the text in messages.
func Collect(model, text, source string, o Options) (*calib.Stats, error) {
	if o.Ctx < 8 {
		return nil, fmt.Errorf("--calib-ctx %d: want at least 8 tokens", o.Ctx)
	}
	pr := o.progress("imatrix")
	acc := bridge.NewImatrix()
	acc.CovMaxCols, acc.CovBudget = o.CovMaxCols, o.CovBudget
	if err := llamasrc.CollectInputStats(model, text, acc, o.Ctx, o.Chunks, o.threads(), func(d, n int) { pr.Chunk("collect", d, n) }); err != nil {
		return nil, fmt.Errorf("importance matrix of %s over %s: %w", model, source, err)
	}
	st := &calib.Stats{Imatrix: acc.Means(), Covariance: acc.Covariances()}
	pr.Printf("imatrix: %d tensors from %s (input covariance for %d)", len(st.Imatrix), source, len(st.Covariance))
	return st, nil
}

// Imatrix is Collect without covariances, through llama.cpp's own
// collection (what llama-imatrix would write for the stock quantizers).
func Imatrix(model, text, source string, o Options) (map[string][]float32, error) {
	pr := o.progress("imatrix")
	im, err := llamasrc.CollectImatrix(model, text, o.Ctx, o.Chunks, o.threads(), func(d, n int) { pr.Chunk("collect", d, n) })
	if err != nil {
		return nil, fmt.Errorf("imatrix of %s over %s: %w", model, source, err)
	}
	return im, nil
}

// selfParamsPerThread: below this many parameters per thread, token
// generation is faster with fewer threads.
const selfParamsPerThread = 50_000_000

// SelfText samples calibration text from the model itself (data-free
// calibration): o.Chunks stories of up to o.Ctx-1 tokens, each from BOS at
// temperature 1 with no truncation, seeds seed, seed+1, ..., so the text
// follows the model's own distribution. Same model and seed, same text.
func SelfText(model string, seed uint32, o Options) (string, error) {
	nctx, chunks, threads := o.Ctx, o.Chunks, o.threads()
	if nctx < 8 || chunks < 1 {
		return "", fmt.Errorf("--calib-self: want --calib-ctx >= 8 and --calib-chunks >= 1, got %d and %d", nctx, chunks)
	}
	m, err := bridge.LoadModel(model, bridge.ModelParams{})
	if err != nil {
		return "", fmt.Errorf("--calib-self: %w", err)
	}
	defer m.Close()
	// One token of a small model is microseconds of work: extra threads only
	// add ggml's barrier spinning, so small models generate on one thread per
	// context, with one context per core; large ones on one context.
	perCtx := max(1, min(threads, int(m.Info().NParams/selfParamsPerThread)))
	workers := max(1, min(chunks, threads/perCtx))
	texts := make([]string, chunks)
	errs := make([]error, workers)
	var done atomic.Int64
	pr := o.progress("calib-self")
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = generate(m, w, workers, nctx, perCtx, seed, texts, func() { pr.Chunk("generate", int(done.Add(1)), chunks) })
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return "", fmt.Errorf("--calib-self: %w", err)
		}
	}
	return strings.Join(texts, "\n") + "\n", nil
}

// generate fills texts[w], texts[w+workers], ... on one context: a fixed
// split, so the text does not depend on timing.
func generate(m *bridge.Model, w, workers, nctx, threads int, seed uint32, texts []string, step func()) error {
	c, err := m.NewContext(bridge.ContextParams{NCtx: nctx, NBatch: nctx, Threads: threads})
	if err != nil {
		return err
	}
	defer c.Close()
	for i := w; i < len(texts); i += workers {
		var sb strings.Builder
		opts := bridge.GenerateOptions{NPredict: nctx - 1, Sampler: bridge.SamplerParams{Temp: 1, Seed: seed + uint32(i)}}
		if _, err := c.Generate(context.Background(), "", opts, func(p string) error { sb.WriteString(p); return nil }); err != nil {
			return fmt.Errorf("sample %d: %w", i+1, err)
		}
		texts[i] = sb.String()
		step()
	}
	return nil
}
