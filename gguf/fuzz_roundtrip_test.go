package gguf

import (
	"bytes"
	"testing"
)

// reencode encodes a parsed file again with Writer: the keys in order, the
// tensors laid out afresh, each tensor's bytes copied from data.
func reencode(t *testing.T, g *File, data []byte) []byte {
	t.Helper()
	var m memFile
	w, err := NewWriter(&m, g.KVs, g.Tensors)
	if err != nil {
		t.Fatalf("the writer refuses what the reader accepted: %v", err)
	}
	for i := range g.Tensors {
		ti := &g.Tensors[i]
		off := g.DataOffset + int64(ti.Offset)
		if err := w.WriteTensor(i, data[off:off+int64(ti.Size())]); err != nil {
			t.Fatalf("tensor %q: %v", ti.Name, err)
		}
	}
	if err := w.Finish(g.KVs); err != nil {
		t.Fatalf("finish: %v", err)
	}
	return m.b
}

// checkRoundTrip holds the reader and writer to each other on any file the
// reader accepts: the rewritten file parses, and rewriting it again gives
// the same bytes (keys, types, values, shapes and tensor data survive).
func checkRoundTrip(t *testing.T, g *File, data []byte) {
	once := reencode(t, g, data)
	g2, err := Parse(bytes.NewReader(once), int64(len(once)))
	if err != nil {
		t.Fatalf("the reader refuses the writer's copy of an accepted file: %v", err)
	}
	if len(g2.KVs) != len(g.KVs) || len(g2.Tensors) != len(g.Tensors) {
		t.Fatalf("rewrite has %d keys, %d tensors; input %d, %d", len(g2.KVs), len(g2.Tensors), len(g.KVs), len(g.Tensors))
	}
	if twice := reencode(t, g2, once); !bytes.Equal(once, twice) {
		t.Fatal("rewriting the rewritten file changed its bytes")
	}
}
