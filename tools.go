//go:build tools

// Package pocketgguf pins modules the build needs as source, not as imports:
// github.com/ollama/ollama carries the llama.cpp and ggml sources that
// CMakeLists.txt copies, patches and builds.
package pocketgguf

import (
	_ "github.com/ollama/ollama/fs/gguf"
	_ "github.com/x448/float16"
)
