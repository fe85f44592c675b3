package converter

import (
	"fmt"
	"regexp"

	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/gguf"
)

// Tensor names llama.cpp gives the token embedding and the output head.
const (
	TokenEmbd = "token_embd.weight"
	Output    = "output.weight"
)

type class int

const (
	classCopy      class = iota // 1-D, norms, biases, anything not a 2-D weight: bytes copied
	classWeight                 // 2-D weight inside the network: PQ candidate
	classEmbedding              // token_embd / output: kept dense unless size or flags say otherwise
)

var blkPrefix = regexp.MustCompile(`^blk\.\d+\.`)

// kindOf is the tensor name without its layer prefix ("blk.3.attn_q.weight" → "attn_q.weight"):
// tensors of one kind across layers may share a table.
func kindOf(name string) string { return blkPrefix.ReplaceAllString(name, "") }

// inputFloatTypes are the types the converter reads as weights.
var inputFloatTypes = map[format.GGMLType]bool{gguf.TypeF32: true, gguf.TypeF16: true, gguf.TypeBF16: true, gguf.TypeQ8_0: true}

// classify decides what a tensor is, and refuses quantized 2-D inputs it cannot read.
func classify(path string, t *gguf.TensorInfo) (class, error) {
	if len(t.Shape) < 2 || t.Rows() < 2 {
		return classCopy, nil
	}
	if !inputFloatTypes[t.Type] {
		if _, pq := format.LookupPQ(t.Type); pq {
			return 0, fmt.Errorf("%s: tensor %q is already %s: this is a PocketGGUF (run pocketgguf unpack first)", path, t.Name, gguf.TypeName(t.Type))
		}
		return 0, fmt.Errorf("%s: tensor %q has type %s: convert reads f32, f16, bf16 or q8_0 weights; start from an unquantized GGUF (e.g. convert_hf_to_gguf.py --outtype f16)",
			path, t.Name, gguf.TypeName(t.Type))
	}
	if len(t.Shape) > 2 {
		return classCopy, nil // 3-D expert stacks etc.: kept as they are
	}
	if t.Name == TokenEmbd || t.Name == Output {
		return classEmbedding, nil
	}
	return classWeight, nil
}
