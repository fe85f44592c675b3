package gguf

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/pocketgguf/pocketgguf/fuzz/allocguard"

	"github.com/pocketgguf/pocketgguf/envconfig"
)

// FuzzReadGGUF feeds arbitrary bytes to the parser: it must return an error
// or a header whose tensors all lie inside the data, never panic or allocate
// without bound (allocguard: at most a constant factor of the input), and
// whatever it accepts the writer must reproduce (checkRoundTrip). Seeds: testdata/fuzz/FuzzReadGGUF (tiny generated files).
func FuzzReadGGUF(f *testing.F) {
	f.Add(tinyFile(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		var g *File
		var err error
		allocguard.Check(t, len(data), func() { g, err = Parse(bytes.NewReader(data), int64(len(data))) })
		if err != nil {
			return
		}
		for i := range g.Tensors {
			ti := &g.Tensors[i]
			if g.DataOffset+int64(ti.Offset)+int64(ti.Size()) > int64(len(data)) {
				t.Fatalf("tensor %q accepted past the end", ti.Name)
			}
		}
		checkRoundTrip(t, g, data)
	})
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzReadGGUF when
// POCKET_WRITE_FUZZ_SEEDS=1: the tiny file, and it truncated and corrupted.
func TestWriteFuzzSeeds(t *testing.T) {
	if !envconfig.WriteFuzzSeeds.Set() {
		t.Skip("set POCKET_WRITE_FUZZ_SEEDS=1 to regenerate the seed corpus")
	}
	good := tinyFile(t)
	seeds := map[string][]byte{
		"tiny":        good,
		"truncated":   good[:len(good)/2],
		"huge-count":  append(append([]byte{}, good[:8]...), append([]byte{0, 0, 0, 0, 0, 0, 0, 0x10}, good[16:]...)...),
		"bad-type":    bytes.Replace(bytes.Clone(good), []byte("b.weight\x01\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00\x01"), []byte("b.weight\x01\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00\x63"), 1),
		"header-only": good[:24],
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzReadGGUF")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range seeds {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
