package gguf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Writer lays out a GGUF file and streams tensor data into it. Metadata comes
// first in a GGUF but some of it (row scales, errors) is only known after the
// tensors are computed, so the header's size is fixed up front from value
// lengths (NewWriter), tensor data is written at its final offset tensor by
// tensor, and Finish writes the header with the final values, which must
// encode to the same number of bytes. Peak memory is one tensor.
type Writer struct {
	w          io.WriterAt
	kvs        []KV
	tensors    []TensorInfo
	align      int64
	headerLen  int64 // including padding up to the data section
	dataOffset int64
	written    []bool
	end        int64
}

// NewWriter computes tensor offsets (in the order given) for kvs and tensors.
// Tensor offsets in the argument are ignored. The alignment is general.alignment
// from kvs, or 32.
func NewWriter(w io.WriterAt, kvs []KV, tensors []TensorInfo) (*Writer, error) {
	wr := &Writer{w: w, kvs: kvs, align: DefaultAlignment}
	for _, kv := range kvs {
		if kv.Key == "general.alignment" {
			a, ok := kv.Value.V.(uint32)
			if !ok || a == 0 || a&(a-1) != 0 {
				return nil, fmt.Errorf("general.alignment %v: want a u32 power of two", kv.Value.V)
			}
			wr.align = int64(a)
		}
	}
	wr.tensors = make([]TensorInfo, len(tensors))
	var off uint64
	for i, t := range tensors {
		if _, ok := LookupType(t.Type); !ok {
			return nil, fmt.Errorf("tensor %q: unknown ggml type %d", t.Name, uint32(t.Type))
		}
		t.Offset = off
		wr.tensors[i] = t
		off += t.Size()
		off = uint64(alignUp(int64(off), wr.align))
	}
	hdr, err := wr.encodeHeader(kvs)
	if err != nil {
		return nil, err
	}
	wr.headerLen = int64(len(hdr))
	wr.dataOffset = wr.headerLen
	wr.end = wr.dataOffset + int64(off)
	wr.written = make([]bool, len(tensors))
	return wr, nil
}

// Tensors returns the laid-out tensor infos (with offsets).
func (wr *Writer) Tensors() []TensorInfo { return wr.tensors }

// FileSize is the size the finished file will have.
func (wr *Writer) FileSize() int64 { return wr.end }

// WriteTensor writes tensor i's data (exactly its size) followed by zero padding.
func (wr *Writer) WriteTensor(i int, data []byte) error {
	t := &wr.tensors[i]
	if uint64(len(data)) != t.Size() {
		return fmt.Errorf("tensor %q: %d data bytes, want %d", t.Name, len(data), t.Size())
	}
	off := wr.dataOffset + int64(t.Offset)
	if _, err := wr.w.WriteAt(data, off); err != nil {
		return err
	}
	pad := alignUp(int64(len(data)), wr.align) - int64(len(data))
	if pad > 0 {
		if _, err := wr.w.WriteAt(make([]byte, pad), off+int64(len(data))); err != nil {
			return err
		}
	}
	wr.written[i] = true
	return nil
}

// Finish writes the header with the final kvs: same keys, types and lengths as
// given to NewWriter (values may differ). Every tensor must have been written.
func (wr *Writer) Finish(kvs []KV) error {
	for i, ok := range wr.written {
		if !ok {
			return fmt.Errorf("tensor %q was never written", wr.tensors[i].Name)
		}
	}
	hdr, err := wr.encodeHeader(kvs)
	if err != nil {
		return err
	}
	if int64(len(hdr)) != wr.headerLen {
		return fmt.Errorf("gguf: final header is %d bytes, laid out for %d (a metadata value changed length)", len(hdr), wr.headerLen)
	}
	_, err = wr.w.WriteAt(hdr, 0)
	return err
}

// Header encodes the header (with padding) for kvs without writing anything:
// with FileSize it lets a caller lay out a file whose data it writes itself.
func (wr *Writer) Header(kvs []KV) ([]byte, error) { return wr.encodeHeader(kvs) }

func (wr *Writer) encodeHeader(kvs []KV) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(Magic)
	le := binary.LittleEndian
	b.Write(le.AppendUint32(nil, 3))
	b.Write(le.AppendUint64(nil, uint64(len(wr.tensors))))
	b.Write(le.AppendUint64(nil, uint64(len(kvs))))
	seen := map[string]bool{}
	for _, kv := range kvs {
		if seen[kv.Key] {
			return nil, fmt.Errorf("gguf: metadata key %q given twice", kv.Key)
		}
		seen[kv.Key] = true
		putString(&b, kv.Key)
		b.Write(le.AppendUint32(nil, uint32(kv.Value.Type)))
		if err := putValue(&b, kv.Value); err != nil {
			return nil, fmt.Errorf("gguf: metadata key %q: %w", kv.Key, err)
		}
	}
	for _, t := range wr.tensors {
		if len(t.Name) > MaxNameLen {
			return nil, fmt.Errorf("gguf: tensor name %q longer than %d bytes", t.Name, MaxNameLen)
		}
		putString(&b, t.Name)
		b.Write(le.AppendUint32(nil, uint32(len(t.Shape))))
		for _, d := range t.Shape {
			b.Write(le.AppendUint64(nil, d))
		}
		b.Write(le.AppendUint32(nil, uint32(t.Type)))
		b.Write(le.AppendUint64(nil, t.Offset))
	}
	if len(wr.tensors) > 0 { // gguf-py leaves a tensor-less file unpadded; so do we, for byte-exact copies
		b.Write(make([]byte, alignUp(int64(b.Len()), wr.align)-int64(b.Len())))
	}
	return b.Bytes(), nil
}

func putString(b *bytes.Buffer, s string) {
	b.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(s))))
	b.WriteString(s)
}

func putValue(b *bytes.Buffer, v Value) error {
	if err := v.checkType(); err != nil {
		return err
	}
	le := binary.LittleEndian
	switch x := v.V.(type) {
	case uint8:
		b.WriteByte(x)
	case int8:
		b.WriteByte(byte(x))
	case uint16:
		b.Write(le.AppendUint16(nil, x))
	case int16:
		b.Write(le.AppendUint16(nil, uint16(x)))
	case uint32:
		b.Write(le.AppendUint32(nil, x))
	case int32:
		b.Write(le.AppendUint32(nil, uint32(x)))
	case float32:
		b.Write(le.AppendUint32(nil, math.Float32bits(x)))
	case bool:
		if x {
			b.WriteByte(1)
		} else {
			b.WriteByte(0)
		}
	case string:
		putString(b, x)
	case uint64:
		b.Write(le.AppendUint64(nil, x))
	case int64:
		b.Write(le.AppendUint64(nil, uint64(x)))
	case float64:
		b.Write(le.AppendUint64(nil, math.Float64bits(x)))
	case Array:
		return putArray(b, x)
	}
	return nil
}

func putArray(b *bytes.Buffer, a Array) error {
	le := binary.LittleEndian
	b.Write(le.AppendUint32(nil, uint32(a.Elem)))
	b.Write(le.AppendUint64(nil, uint64(a.Len())))
	switch d := a.Data.(type) {
	case []uint8:
		b.Write(d)
	case []int8:
		for _, x := range d {
			b.WriteByte(byte(x))
		}
	case []uint16:
		for _, x := range d {
			b.Write(le.AppendUint16(nil, x))
		}
	case []int16:
		for _, x := range d {
			b.Write(le.AppendUint16(nil, uint16(x)))
		}
	case []uint32:
		for _, x := range d {
			b.Write(le.AppendUint32(nil, x))
		}
	case []int32:
		for _, x := range d {
			b.Write(le.AppendUint32(nil, uint32(x)))
		}
	case []float32:
		for _, x := range d {
			b.Write(le.AppendUint32(nil, math.Float32bits(x)))
		}
	case []bool:
		for _, x := range d {
			if x {
				b.WriteByte(1)
			} else {
				b.WriteByte(0)
			}
		}
	case []string:
		for _, x := range d {
			putString(b, x)
		}
	case []uint64:
		for _, x := range d {
			b.Write(le.AppendUint64(nil, x))
		}
	case []int64:
		for _, x := range d {
			b.Write(le.AppendUint64(nil, uint64(x)))
		}
	case []float64:
		for _, x := range d {
			b.Write(le.AppendUint64(nil, math.Float64bits(x)))
		}
	case []Array:
		for _, x := range d {
			if err := putArray(b, x); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("array data of Go type %T", a.Data)
	}
	if want := map[ValueType]string{ValUint8: "[]uint8", ValInt8: "[]int8", ValUint16: "[]uint16", ValInt16: "[]int16",
		ValUint32: "[]uint32", ValInt32: "[]int32", ValFloat32: "[]float32", ValBool: "[]bool", ValString: "[]string",
		ValUint64: "[]uint64", ValInt64: "[]int64", ValFloat64: "[]float64", ValArray: "[]gguf.Array"}[a.Elem]; want != fmt.Sprintf("%T", a.Data) {
		return fmt.Errorf("array of %s holds Go %T", a.Elem, a.Data)
	}
	return nil
}

// Rewrite writes a copy of g to out (atomically) with the same tensors in
// the same layout: kvs replaces g's metadata (each value must keep its
// encoded length when data depends on it; any kvs may be given), and
// data(i) gives tensor i's new bytes, or nil to copy g's.
func Rewrite(g *File, out string, kvs []KV, data func(i int) ([]byte, error)) error {
	f, err := CreateAtomic(out)
	if err != nil {
		return err
	}
	defer f.Abort()
	wr, err := NewWriter(f, kvs, g.Tensors)
	if err != nil {
		return fmt.Errorf("%s: %w", out, err)
	}
	for i := range g.Tensors {
		b, err := data(i)
		if err != nil {
			return err
		}
		if b == nil {
			if b, err = g.ReadTensor(&g.Tensors[i]); err != nil {
				return err
			}
		}
		if err := wr.WriteTensor(i, b); err != nil {
			return fmt.Errorf("%s: %w", out, err)
		}
	}
	if err := wr.Finish(kvs); err != nil {
		return fmt.Errorf("%s: %w", out, err)
	}
	return f.Commit()
}
