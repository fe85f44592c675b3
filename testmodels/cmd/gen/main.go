// Command gen writes a synthetic Llama GGUF: go run ./testmodels/cmd/gen -preset tiny OUT.gguf
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"

	"github.com/pocketgguf/pocketgguf/gguf"
	"github.com/pocketgguf/pocketgguf/testmodels"
)

func main() {
	preset := flag.String("preset", "tiny", "shape preset: "+presetNames())
	vocab := flag.String("vocab", "", "GGUF to copy tokenizer.* keys from (default for llama7b-2l: ../shared/testdata/vocab/ggml-vocab-llama-spm.gguf if present)")
	layers := flag.Int("layers", 0, "override the number of layers")
	seed := flag.Uint64("seed", 1, "random seed")
	typ := flag.String("type", "", "weight type f32|f16|bf16|q8_0 (default: the preset's)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: gen [-preset NAME] [-vocab FILE] OUT.gguf")
		os.Exit(2)
	}
	cfg, ok := testmodels.Presets[*preset]
	if !ok {
		fmt.Fprintf(os.Stderr, "gen: unknown -preset %q (have %s)\n", *preset, presetNames())
		os.Exit(2)
	}
	cfg.Seed = *seed
	if *layers > 0 {
		cfg.Layers = *layers
	}
	if *typ != "" {
		t, ok := gguf.ParseType(*typ)
		if !ok || (t != gguf.TypeF32 && t != gguf.TypeF16 && t != gguf.TypeBF16 && t != gguf.TypeQ8_0) {
			fmt.Fprintf(os.Stderr, "gen: -type %q: want f32, f16, bf16 or q8_0\n", *typ)
			os.Exit(2)
		}
		cfg.Type = t
	}
	cfg.VocabFile = *vocab
	if cfg.VocabFile == "" && cfg.Vocab == 32000 {
		if p := testmodels.SharedVocab(); p != "" {
			cfg.VocabFile = p
		}
	}
	if err := testmodels.Generate(flag.Arg(0), cfg); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func presetNames() string {
	var n []string
	for k := range testmodels.Presets {
		n = append(n, k)
	}
	sort.Strings(n)
	return fmt.Sprint(n)
}
