package main

import (
	"fmt"
	"os"
	"runtime"

	"github.com/pocketgguf/pocketgguf/bridge"
	"github.com/pocketgguf/pocketgguf/eval"
	"github.com/pocketgguf/pocketgguf/eval/llamasrc"
)

// calibImatrix collects llama-imatrix statistics of the input model over a
// calibration text for convert --calib-text (the converter package itself
// stays pure Go; this is the CLI's cgo side, as baseline's collection).
// With covMaxCols > 0 it also returns the input covariances (mean x·xᵀ) of
// weights whose input is at most that wide, within covBudget bytes.
func calibImatrix(model, text string, nctx, chunks, threads int, quiet bool, covMaxCols int, covBudget int64) (map[string][]float32, map[string][]float64, error) {
	b, err := os.ReadFile(text)
	if err != nil {
		return nil, nil, fmt.Errorf("--calib-text: %w", err)
	}
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
	acc, err = llamasrc.CollectInputStats(model, string(b), acc, nctx, chunks, threads, func(d, n int) { pr.Chunk("collect", d, n) })
	if err != nil {
		return nil, nil, fmt.Errorf("importance matrix of %s over --calib-text %s: %w", model, text, err)
	}
	im, cov := acc.Means(), acc.Covariances()
	pr.Printf("imatrix: %d tensors from %s (input covariance for %d)", len(im), text, len(cov))
	return im, cov, nil
}
