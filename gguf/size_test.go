package gguf

import "testing"

func TestEncodedSizes(t *testing.T) {
	kvs := []KV{
		{"general.alignment", U32(32)}, {"a.u64", U64(1)}, {"a.f32", F32(1)}, {"a.str", Str("héllo")},
		{"a.bool", Bool(true)}, {"a.i32", I32(-1)}, {"a.f32s", F32s(make([]float32, 7))},
		{"a.u16s", U16s(make([]uint16, 5))}, {"a.strs", Strs([]string{"", "ab", "cde"})},
		{"a.u8", Value{ValUint8, uint8(1)}}, {"a.f64", Value{ValFloat64, 1.5}},
		{"a.nested", Value{ValArray, Array{ValArray, []Array{{ValInt32, []int32{1, 2}}, {ValString, []string{"x"}}}}}},
	}
	tensors := []TensorInfo{{Name: "w", Shape: []uint64{4, 3}, Type: TypeF32}, {Name: "norm", Shape: []uint64{4}, Type: TypeF16}}
	w, err := NewWriter(discardAt{}, kvs, tensors)
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := w.Header(kvs)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(24)
	for _, kv := range kvs {
		n += kv.EncodedSize()
	}
	for i := range tensors {
		n += tensors[i].EncodedSize()
	}
	if got := alignUp(n, 32); got != int64(len(hdr)) {
		t.Fatalf("sizes add up to %d (%d aligned), the writer's header is %d bytes", n, got, len(hdr))
	}
	if KeySize("k")+ArraySize(5, ValUint16) != (KV{"k", U16s(make([]uint16, 5))}).EncodedSize() {
		t.Fatal("ArraySize disagrees with Value.EncodedSize")
	}
}

type discardAt struct{}

func (discardAt) WriteAt(p []byte, _ int64) (int, error) { return len(p), nil }
