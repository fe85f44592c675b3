// Package e2e runs the patched Ollama (build/ollama/bin/ollama, made by
// scripts/build-ollama.sh) end to end: ollama serve on 127.0.0.1, ollama create
// from a Modelfile, ollama run, /api/generate, /api/chat and /api/show, on both
// the llama.cpp engine and the Go engine (OLLAMA_NEW_ENGINE=1).
//
// The tests skip when the binary has not been built, so `go test ./...` stays
// fast on a machine without the build; scripts/test.sh builds it first and sets
// POCKET_E2E=1, which turns a missing binary into a failure.
package e2e
