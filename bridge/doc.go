// Package bridge is a cgo binding to libllama (llama.cpp as vendored in Ollama
// v0.17.4, with the project's patches), in the spirit of Ollama's llama package:
// load a model, tokenize, decode batches with per-position logits, sample, stream
// generated text, gather an importance matrix, and quantize with llama_model_quantize.
//
// Build: the library comes from the project's CMake build, which must run before
// `go build` or `go test` (scripts/test.sh does it):
//
//	cmake -S . -B build/native -G Ninja && cmake --build build/native -j2
//
// Errors: every failure is a Go error; messages include what llama.cpp logged at
// error level for the failing call. llama.cpp's own log goes nowhere by default;
// SetLogger or POCKET_LLAMA_LOG=debug|info|warn|error routes it.
//
// Concurrency: any number of models, and any number of contexts on one model,
// may be used at once from different goroutines. One Context serialises its own
// calls with a mutex (a llama_context is not safe for concurrent use), so two
// goroutines sharing a Context take turns. Model methods (Tokenize, Info, ...)
// are safe for concurrent use. Close frees the C memory at once; finalizers free
// what a program forgot to Close. Closing a Model closes its contexts.
package bridge
