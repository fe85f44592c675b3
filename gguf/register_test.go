package gguf

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// A type nobody registered is refused naming the tensor; once a codec
// registers it, the same bytes parse, and a second registration panics.
func TestRegisterType(t *testing.T) {
	const id Type = 250
	p := filepath.Join(t.TempDir(), "x.gguf")
	info := TensorInfo{Name: "w", Shape: []uint64{8, 2}, Type: id}
	write := func() error {
		f, err := CreateAtomic(p)
		if err != nil {
			return err
		}
		defer f.Abort()
		w, err := NewWriter(f, nil, []TensorInfo{info})
		if err != nil {
			return err
		}
		if err := w.WriteTensor(0, bytes.Repeat([]byte{1}, 4)); err != nil {
			return err
		}
		if err := w.Finish(nil); err != nil {
			return err
		}
		return f.Commit()
	}
	if err := write(); err == nil || !strings.Contains(err.Error(), "w") {
		t.Fatalf("writing an unregistered type: %v", err)
	}
	RegisterType(id, TypeInfo{Name: "test_4x8", BlockSize: 4, TypeSize: 1})
	defer func() {
		typesMu.Lock()
		delete(ggmlTypes, id)
		typesMu.Unlock()
	}()
	if err := write(); err != nil {
		t.Fatal(err)
	}
	g, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
	if TypeName(id) != "test_4x8" {
		t.Fatalf("TypeName = %q", TypeName(id))
	}
	if got, ok := ParseType("TEST_4X8"); !ok || got != id {
		t.Fatalf("ParseType = %v, %v", got, ok)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("registering id 250 twice did not panic")
		}
	}()
	RegisterType(id, TypeInfo{Name: "other", BlockSize: 1, TypeSize: 1})
}
