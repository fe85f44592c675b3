package pqcorpus

import (
	"context"
	"path/filepath"

	"github.com/pocketgguf/pocketgguf/converter"
	"github.com/pocketgguf/pocketgguf/gguf"
	"github.com/pocketgguf/pocketgguf/testmodels"
)

// MicroConfig is the smallest Llama llama.cpp loads that still has every
// tensor kind: one layer, dim 32, the 259-token byte-fallback vocabulary.
var MicroConfig = testmodels.Config{Name: "micro", Dim: 32, FFN: 64, Layers: 1, Heads: 2, HeadsKV: 1,
	Vocab: 259, Type: gguf.TypeF32, Seed: 1, ContextLength: 64}

// MicroOptions convert it quickly: k-means, K = 16, one table per PQ type.
var MicroOptions = converter.Options{Method: "kmeans", CodebookSize: 16, Sharing: "model", Epochs: 3, Seed: 1, Threads: 1}

// Micro writes the micro model and its PocketGGUF into dir and returns both paths.
func Micro(dir string) (dense, pq string, err error) {
	dense, pq = filepath.Join(dir, "micro.gguf"), filepath.Join(dir, "micro.pq.gguf")
	if err := testmodels.Generate(dense, MicroConfig); err != nil {
		return "", "", err
	}
	if _, err := converter.Convert(context.Background(), dense, pq, MicroOptions); err != nil {
		return "", "", err
	}
	return dense, pq, nil
}
