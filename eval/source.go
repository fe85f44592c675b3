// Package eval measures how far a quantized model's next-token distributions
// drift from a base model's, with the statistics of llama-perplexity's
// KL-divergence mode (tools/perplexity/perplexity.cpp): PPL of both models,
// mean KLD(base‖test) with its standard error and percentiles, how often the
// top-1 token agrees, and the RMS of the change in the true token's
// probability.
package eval

// LogitSource is a loaded model that can score a chunk of tokens. The bridge
// package provides one over libllama; tests use synthetic ones.
type LogitSource interface {
	// Tokenize tokenizes text as llama-perplexity does (common_tokenize with
	// add_special = true: a BOS first when the vocabulary asks for one).
	Tokenize(text string) ([]int32, error)
	// NVocab is the number of logits per position.
	NVocab() int
	// AddBOS says whether the vocabulary wants a BOS first; BOS is its id.
	AddBOS() bool
	BOS() int32
	// Logits decodes tokens as one sequence from position 0 on an empty
	// cache and returns the logits of positions first..len(tokens)-1,
	// row after row (NVocab floats each).
	Logits(tokens []int32, first int) ([]float32, error)
}
