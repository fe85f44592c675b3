package eval

import (
	"os"
	"path/filepath"
	"testing"
)

// testdata is the shared test data beside the repository (see COMMON.md);
// tests that need it skip when it is absent.
func testdata(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join("..", "..", "shared", "testdata", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("test data %s absent: %v", rel, err)
	}
	return p
}

func TestReadFileInfoStories260K(t *testing.T) {
	p := testdata(t, "models/stories260K.gguf")
	fi, err := ReadFileInfo(p)
	if err != nil {
		t.Fatal(err)
	}
	// dim 64, 4 query heads over 2 kv heads (k, v are 64×32), ffn 172, 5 layers,
	// vocab 512, untied output.
	perLayer := int64(64 + 2*64*64 + 2*64*32 + 64 + 3*64*172)
	if want := 5*perLayer + 2*512*64 + 64; fi.Elements != want || fi.Tensors != 48 {
		t.Errorf("elements %d in %d tensors, want %d in 48", fi.Elements, fi.Tensors, want)
	}
	if fi.Types["f32"] != fi.Tensors || len(fi.Types) != 1 {
		t.Errorf("types %v of %d tensors, want all f32", fi.Types, fi.Tensors)
	}
	if b := fi.BPW(); b < 32 || b > 40 {
		t.Errorf("whole-file bpw of an F32 model %.2f, want just above 32", b)
	}
	bad := filepath.Join(t.TempDir(), "x.gguf")
	os.WriteFile(bad, []byte("GGUF\x03\x00\x00\x00garbage"), 0o644)
	if _, err := ReadFileInfo(bad); err == nil {
		t.Error("truncated GGUF accepted")
	}
}
