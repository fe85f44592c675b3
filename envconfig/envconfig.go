// Package envconfig declares every POCKET_* environment variable the Go code
// reads, once, typed and with what it does (Ollama's envconfig is the model).
// Read a knob through its Var, never with os.Getenv and a string of its own:
// TestEveryKnobIsDeclared holds the tree to that. Scripts' own variables
// (scripts/*.sh) are documented in the scripts.
package envconfig

import (
	"os"
	"strconv"
)

// Var is one environment variable.
type Var struct {
	Name string
	Doc  string
}

// Value is the variable's text, "" when unset.
func (v Var) Value() string { return os.Getenv(v.Name) }

// Set reports whether the variable is set to anything but "".
func (v Var) Set() bool { return v.Value() != "" }

// Int is the variable as a positive integer, def when unset or not one.
func (v Var) Int(def int) int {
	if x, err := strconv.Atoi(v.Value()); err == nil && x > 0 {
		return x
	}
	return def
}

var all []Var

func declare(name, doc string) Var {
	v := Var{name, doc}
	all = append(all, v)
	return v
}

// All lists the declared variables in declaration order.
func All() []Var { return append([]Var(nil), all...) }

// Used by the programs.
var (
	LlamaLog = declare("POCKET_LLAMA_LOG", "debug, info, warn or error: print llama.cpp's log at that level and above to stderr (bridge)")
)

// Used by tests and benchmarks.
var (
	Long           = declare("POCKET_LONG", "run the slow test cases and benchmarks too (minutes, up to a few GB of memory)")
	GoldenUpdate   = declare("POCKET_GOLDEN_UPDATE", "golden: rewrite golden/testdata/golden.txt from this run (as -update)")
	FinetuneRecord = declare("POCKET_FT_RECORD", "finetune: rewrite the output hashes TestRunBytesUnchanged holds Run to (from a tree whose Run is trusted)")
	WriteFuzzSeeds = declare("POCKET_WRITE_FUZZ_SEEDS", "regenerate the committed fuzz seed corpora (gguf, converter)")
	Cross          = declare("POCKET_CROSS", "cli: also run pocket-cli for other architectures under qemu")
	E2E            = declare("POCKET_E2E", "e2e: 1 runs the Ollama end-to-end tests (needs scripts/build-ollama.sh)")
	E2EPQ          = declare("POCKET_E2E_PQ", "e2e, examples: a PocketGGUF to run instead of the generated one")
	E2EPQRef       = declare("POCKET_E2E_PQ_REF", "e2e, examples: the unpacked twin of POCKET_E2E_PQ")
	OllamaBin      = declare("POCKET_OLLAMA_BIN", "the patched ollama binary (default build/ollama/bin/ollama)")
	OllamaModel    = declare("POCKET_OLLAMA_LOAD_MODEL", "reliability: run the Ollama load test on this model too")
	BenchMethod    = declare("POCKET_BENCH_METHOD", "converter benchmarks: table training method")
	BenchBPW       = declare("POCKET_BENCH_BPW", "converter benchmarks: --bpw")
	BenchModel     = declare("POCKET_BENCH_MODEL", "finetune benchmarks: a testmodels preset or m30")
	BenchT         = declare("POCKET_BENCH_T", "finetune benchmarks: tokens per sequence")
	BenchB         = declare("POCKET_BENCH_B", "finetune benchmarks: sequences per step")
	BenchThreads   = declare("POCKET_BENCH_THREADS", "finetune benchmarks: threads")
	BenchEngines   = declare("POCKET_BENCH_ENGINES", "finetune benchmarks: go, ggml or both (comma-separated)")
	PQAReport      = declare("POCKET_PQA_REPORT", "quant: print the additive types' error table")
	PQARows        = declare("POCKET_PQA_ROWS", "quant: rows of the additive-type error test matrix")
	PQAEpochs      = declare("POCKET_PQA_EPOCHS", "quant: training rounds of the additive-type error table")
	PQAVecs        = declare("POCKET_PQA_VECS", "quant: training vectors of the additive-type error table")
	PQATypes       = declare("POCKET_PQA_TYPES", "quant: additive types of the error table (comma-separated)")
)
