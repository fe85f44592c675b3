package main

import (
	"fmt"
	"os"
	"runtime"

	"github.com/pocketgguf/pocketgguf/eval"
	"github.com/pocketgguf/pocketgguf/eval/llamasrc"
)

// calibImatrix collects llama-imatrix statistics of the input model over a
// calibration text for convert --calib-text (the converter package itself
// stays pure Go; this is the CLI's cgo side, as baseline's collection).
func calibImatrix(model, text string, nctx, chunks, threads int, quiet bool) (map[string][]float32, error) {
	b, err := os.ReadFile(text)
	if err != nil {
		return nil, fmt.Errorf("--calib-text: %w", err)
	}
	if nctx < 8 {
		return nil, fmt.Errorf("--calib-ctx %d: want at least 8 tokens", nctx)
	}
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	pr := eval.NewProgress(os.Stderr, quiet)
	pr.SetLabel("imatrix")
	im, err := llamasrc.CollectImatrix(model, string(b), nctx, chunks, threads, func(d, n int) { pr.Chunk("collect", d, n) })
	if err != nil {
		return nil, fmt.Errorf("importance matrix of %s over --calib-text %s: %w", model, text, err)
	}
	pr.Printf("imatrix: %d tensors from %s", len(im), text)
	return im, nil
}
