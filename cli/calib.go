package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pocketgguf/pocketgguf/bridge"
	"github.com/pocketgguf/pocketgguf/eval"
	"github.com/pocketgguf/pocketgguf/eval/llamasrc"
)

// calibImatrix collects llama-imatrix statistics of the input model over a
// calibration text for convert --calib-text (the converter package itself
// stays pure Go; this is the CLI's cgo side, as baseline's collection).
// With covMaxCols > 0 it also returns the input covariances (mean x·xᵀ) of
// weights whose input is at most that wide, within covBudget bytes.
// It also returns the text, which --finetune tunes on.
func calibImatrix(model, text string, nctx, chunks, threads int, quiet bool, covMaxCols int, covBudget int64) (map[string][]float32, map[string][]float64, string, error) {
	content, err := readCalibText(text)
	if err != nil {
		return nil, nil, "", err
	}
	im, cov, err := calibStats(model, content, "--calib-text "+text, nctx, chunks, threads, quiet, covMaxCols, covBudget)
	return im, cov, content, err
}

// readCalibText reads the file --calib-text names.
func readCalibText(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--calib-text: %w", err)
	}
	return string(b), nil
}

// calibStats is calibImatrix over text already in memory; source names it in messages.
func calibStats(model, content, source string, nctx, chunks, threads int, quiet bool, covMaxCols int, covBudget int64) (map[string][]float32, map[string][]float64, error) {
	if nctx < 8 {
		return nil, nil, fmt.Errorf("--calib-ctx %d: want at least 8 tokens", nctx)
	}
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	pr := eval.NewProgress(os.Stderr, quiet)
	pr.SetLabel("imatrix")
	acc := bridge.NewImatrix()
	acc.CovMaxCols, acc.CovBudget = covMaxCols, covBudget
	if err := llamasrc.CollectInputStats(model, content, acc, nctx, chunks, threads, func(d, n int) { pr.Chunk("collect", d, n) }); err != nil {
		return nil, nil, fmt.Errorf("importance matrix of %s over %s: %w", model, source, err)
	}
	im, cov := acc.Means(), acc.Covariances()
	pr.Printf("imatrix: %d tensors from %s (input covariance for %d)", len(im), source, len(cov))
	return im, cov, nil
}

// selfCalibParamsPerThread: below this many parameters per thread, token
// generation is faster with fewer threads.
const selfCalibParamsPerThread = 50_000_000

// selfCalibText samples calibration text from the model itself (data-free
// calibration): chunks stories of up to nctx-1 tokens, each from BOS at
// temperature 1 with no truncation, seeds seed, seed+1, ..., so the text
// follows the model's own distribution. Same model and seed, same text.
func selfCalibText(model string, nctx, chunks, threads int, seed uint32, quiet bool) (string, error) {
	if nctx < 8 || chunks < 1 {
		return "", fmt.Errorf("--calib-self: want --calib-ctx >= 8 and --calib-chunks >= 1, got %d and %d", nctx, chunks)
	}
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	m, err := bridge.LoadModel(model, bridge.ModelParams{})
	if err != nil {
		return "", fmt.Errorf("--calib-self: %w", err)
	}
	defer m.Close()
	// One token of a small model is microseconds of work: extra threads only
	// add ggml's barrier spinning, so small models generate on one thread per
	// context, with one context per core; large ones on one context.
	perCtx := max(1, min(threads, int(m.Info().NParams/selfCalibParamsPerThread)))
	workers := max(1, min(chunks, threads/perCtx))
	texts := make([]string, chunks)
	errs := make([]error, workers)
	var done atomic.Int64
	pr := eval.NewProgress(os.Stderr, quiet)
	pr.SetLabel("calib-self")
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := m.NewContext(bridge.ContextParams{NCtx: nctx, NBatch: nctx, Threads: perCtx})
			if err != nil {
				errs[w] = err
				return
			}
			defer c.Close()
			for i := w; i < chunks; i += workers { // fixed split: same text whatever the timing
				var sb strings.Builder
				opts := bridge.GenerateOptions{NPredict: nctx - 1, Sampler: bridge.SamplerParams{Temp: 1, Seed: seed + uint32(i)}}
				if _, err := c.Generate(context.Background(), "", opts, func(p string) error { sb.WriteString(p); return nil }); err != nil {
					errs[w] = fmt.Errorf("sample %d: %w", i+1, err)
					return
				}
				texts[i] = sb.String()
				pr.Chunk("generate", int(done.Add(1)), chunks)
			}
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
