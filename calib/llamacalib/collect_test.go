package llamacalib

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketgguf/pocketgguf/calib"
	"github.com/pocketgguf/pocketgguf/converter"
)

// TestCalibTextIsTheImatrix: convert with an importance matrix collected in
// memory (--calib-text) writes the same bytes as with that matrix saved as a
// llama.cpp .dat and given as --imatrix, and other bytes than without one;
// giving both is refused.
func TestCalibTextIsTheImatrix(t *testing.T) {
	td := filepath.Join("..", "..", "..", "shared", "testdata")
	model := filepath.Join(td, "models", "stories260K.gguf")
	text := filepath.Join(td, "text", "tinystories_val_a.txt")
	if _, err := os.Stat(model); err != nil {
		t.Skip("../shared/testdata/models/stories260K.gguf not present")
	}
	b, err := os.ReadFile(text)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Collect(model, string(b), text, Options{Ctx: 64, Chunks: 2, Threads: 1, Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	im := st.Imatrix
	dir := t.TempDir()
	dat := filepath.Join(dir, "im.dat")
	if err := calib.WriteDat(dat, im); err != nil {
		t.Fatal(err)
	}
	run := func(name string, opt converter.Options) []byte {
		out := filepath.Join(dir, name)
		opt.Threads = 1
		if _, err := converter.Convert(context.Background(), model, out, opt); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	mem := run("mem.gguf", converter.Options{ImatrixData: im})
	file := run("file.gguf", converter.Options{Imatrix: dat})
	plain := run("plain.gguf", converter.Options{})
	if !bytes.Equal(mem, file) {
		t.Fatal("--calib-text and --imatrix of the same statistics give different files")
	}
	if bytes.Equal(mem, plain) {
		t.Fatal("the importance matrix changed nothing")
	}
	_, err = converter.Convert(context.Background(), model, filepath.Join(dir, "both.gguf"), converter.Options{Imatrix: dat, ImatrixData: im})
	if err == nil || !strings.Contains(err.Error(), "--calib-text") {
		t.Fatalf("both --imatrix and --calib-text: got %v", err)
	}
}
