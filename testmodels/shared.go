package testmodels

import (
	"os"
	"path/filepath"
	"runtime"
)

// SharedTestdata returns <repo root>/../shared/testdata/rel if it exists, else "".
func SharedTestdata(rel string) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	p := filepath.Join(filepath.Dir(file), "..", "..", "shared", "testdata", rel)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// SharedVocab is the real 32000-token Llama vocabulary when ../shared is present.
func SharedVocab() string { return SharedTestdata("vocab/ggml-vocab-llama-spm.gguf") }
