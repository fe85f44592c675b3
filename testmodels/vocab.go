package testmodels

import (
	"fmt"

	"github.com/pocketgguf/pocketgguf/gguf"
)

// llama.cpp token types (llama_token_type).
const (
	tokNormal  = 1
	tokUnknown = 2
	tokControl = 3
	tokByte    = 6
)

var commonPieces = []string{"▁the", "▁a", "▁and", "▁to", "▁was", "▁he", "▁she", "▁it", "▁of", "▁in",
	"▁Once", "▁upon", "▁time", "▁there", "▁little", "▁girl", "▁named", "▁Lily", "▁day", "▁play",
	"▁", "e", "t", "a", "o", "i", "n", "s", "h", "r", "d", "l", "u", "c", "m", "w", "y", "g", "f", "p",
	"b", ".", ",", "!", "?", "▁T", "▁S", "er", "in", "on", "an", "ed", "ing", "at", "en", "or", "es"}

// spmTokens lists a SentencePiece-style vocabulary of at least 259 tokens:
// <unk>, <s>, </s>, the 256 byte-fallback tokens llama.cpp's SPM tokenizer
// needs (it looks up <0x0A> for newline), then word pieces.
func spmTokens(n int) []string {
	toks := []string{"<unk>", "<s>", "</s>"}
	for b := 0; b < 256; b++ {
		toks = append(toks, fmt.Sprintf("<0x%02X>", b))
	}
	for i := 0; len(toks) < n; i++ {
		if i < len(commonPieces) {
			toks = append(toks, commonPieces[i])
		} else {
			toks = append(toks, fmt.Sprintf("▁w%d", i))
		}
	}
	return toks
}

// spmVocab returns the tokenizer.* keys for spmTokens(n).
func spmVocab(n int) []gguf.KV {
	toks := spmTokens(n)
	scores := make([]float32, len(toks))
	types := make([]int32, len(toks))
	for i := range toks {
		switch {
		case i == 0:
			types[i] = tokUnknown
		case i < 3:
			types[i] = tokControl
		case i < 259:
			types[i] = tokByte
		default:
			types[i] = tokNormal
			scores[i] = -float32(i - 259)
		}
	}
	return []gguf.KV{
		{Key: "tokenizer.ggml.model", Value: gguf.Str("llama")},
		{Key: "tokenizer.ggml.tokens", Value: gguf.Strs(toks)},
		{Key: "tokenizer.ggml.scores", Value: gguf.F32s(scores)},
		{Key: "tokenizer.ggml.token_type", Value: gguf.I32s(types)},
		{Key: "tokenizer.ggml.bos_token_id", Value: gguf.U32(1)},
		{Key: "tokenizer.ggml.eos_token_id", Value: gguf.U32(2)},
		{Key: "tokenizer.ggml.unknown_token_id", Value: gguf.U32(0)},
	}
}
