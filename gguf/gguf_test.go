package gguf

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// sharedTestdata returns ../shared/testdata relative to the repository root, or skips.
func sharedTestdata(t testing.TB, rel string) string {
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", "shared", "testdata", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared test data %s not present (fresh clone without ../shared)", rel)
	}
	return p
}

// rewrite copies every key and tensor of src into a new file through Rewrite
// (and so Writer).
func rewrite(t *testing.T, src, dst string) {
	g, err := Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := Rewrite(g, dst, g.KVs, func(int) ([]byte, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTripStories260KByteExact(t *testing.T) {
	src := sharedTestdata(t, "models/stories260K.gguf")
	dst := filepath.Join(t.TempDir(), "out.gguf")
	rewrite(t, src, dst)
	a, _ := os.ReadFile(src)
	b, _ := os.ReadFile(dst)
	if !bytes.Equal(a, b) {
		n := 0
		for n < len(a) && n < len(b) && a[n] == b[n] {
			n++
		}
		t.Fatalf("rewrite differs: %d vs %d bytes, first difference at byte %d", len(a), len(b), n)
	}
}

func TestRoundTripVocabByteExact(t *testing.T) {
	src := sharedTestdata(t, "vocab/ggml-vocab-llama-spm.gguf")
	dst := filepath.Join(t.TempDir(), "out.gguf")
	rewrite(t, src, dst)
	a, _ := os.ReadFile(src)
	b, _ := os.ReadFile(dst)
	if !bytes.Equal(a, b) {
		t.Fatalf("rewrite differs: %d vs %d bytes", len(a), len(b))
	}
}
