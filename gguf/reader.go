package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// Magic is the first four bytes of every GGUF file.
const Magic = "GGUF"

// DefaultAlignment applies when general.alignment is absent.
const DefaultAlignment = 32

// MaxDims is GGML_MAX_DIMS; MaxNameLen is GGML_MAX_NAME-1 (llama.cpp refuses longer names).
const (
	MaxDims    = 4
	MaxNameLen = 63
)

// TensorInfo is one tensor's entry in the header. Offset is relative to the
// start of the data section.
type TensorInfo struct {
	Name   string
	Shape  []uint64 // ne0 (row length) first, as ggml
	Type   Type
	Offset uint64
}

// Elements is the number of weights.
func (t *TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Rows is the number of rows (product of all dimensions but ne0).
func (t *TensorInfo) Rows() uint64 {
	if len(t.Shape) == 0 {
		return 1
	}
	return t.Elements() / max(t.Shape[0], 1)
}

// Cols is the row length ne0.
func (t *TensorInfo) Cols() uint64 {
	if len(t.Shape) == 0 {
		return 1
	}
	return t.Shape[0]
}

// Size is the number of data bytes; the type must be known (the reader checks).
func (t *TensorInfo) Size() uint64 {
	ti, _ := LookupType(t.Type)
	if ti.BlockSize == 0 {
		return 0
	}
	return t.Elements() / uint64(ti.BlockSize) * uint64(ti.TypeSize)
}

// File is an open GGUF file: header parsed and validated, tensor data read on demand.
type File struct {
	Path       string
	Version    uint32
	KVs        []KV
	Tensors    []TensorInfo
	Alignment  int
	DataOffset int64 // start of the tensor data section
	Size       int64 // file size

	f     *os.File
	kvIdx map[string]int
	tIdx  map[string]int
}

// Open reads and validates the header of the GGUF file at path.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	g, err := Parse(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	g.Path, g.f = path, f
	return g, nil
}

// Close closes the underlying file.
func (g *File) Close() error {
	if g.f == nil {
		return nil
	}
	return g.f.Close()
}

// Parse reads a GGUF header from r, a file of size bytes. Every count and
// length is checked against the bytes left before anything is allocated, so a
// corrupt header errors instead of exhausting memory.
func Parse(r io.ReaderAt, size int64) (*File, error) {
	p := &parser{r: bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 64<<10), size: size}
	g := &File{Size: size, kvIdx: map[string]int{}, tIdx: map[string]int{}}
	var magic [4]byte
	if err := p.read(magic[:]); err != nil {
		return nil, fmt.Errorf("reading magic: %w", err)
	}
	if string(magic[:]) != Magic {
		return nil, fmt.Errorf("not a GGUF file (magic %q, want %q)", magic[:], Magic)
	}
	g.Version = p.u32()
	if p.err == nil && g.Version != 2 && g.Version != 3 {
		return nil, fmt.Errorf("GGUF version %d not supported (want 2 or 3)", g.Version)
	}
	nTensors, nKV := p.u64(), p.u64()
	if p.err != nil {
		return nil, fmt.Errorf("reading header: %w", p.err)
	}
	// Smallest encodings: a KV is key length(8)+type(4)+1 byte; a tensor info 8+4+4+8.
	if nKV > uint64(p.left())/13 {
		return nil, fmt.Errorf("header claims %d metadata keys, more than the file can hold", nKV)
	}
	if nTensors > uint64(p.left())/24 {
		return nil, fmt.Errorf("header claims %d tensors, more than the file can hold", nTensors)
	}
	g.KVs = make([]KV, 0, nKV)
	for i := uint64(0); i < nKV; i++ {
		key := p.str()
		if p.err != nil {
			return nil, fmt.Errorf("metadata key %d: %w", i, p.err)
		}
		if key == "" { // llama.cpp refuses it too (patch 0004; it used to abort)
			return nil, fmt.Errorf("metadata key %d is empty", i)
		}
		v := p.value(ValueType(p.u32()), 0)
		if p.err != nil {
			return nil, fmt.Errorf("metadata key %q: %w", key, p.err)
		}
		if _, dup := g.kvIdx[key]; dup {
			return nil, fmt.Errorf("metadata key %q appears twice", key)
		}
		g.kvIdx[key] = len(g.KVs)
		g.KVs = append(g.KVs, KV{key, v})
	}
	g.Alignment = DefaultAlignment
	if v, ok := g.KV("general.alignment"); ok {
		a, isU32 := v.V.(uint32)
		if !isU32 || a == 0 || a&(a-1) != 0 || a > 1<<20 {
			return nil, fmt.Errorf("general.alignment %v: want a u32 power of two", v.V)
		}
		g.Alignment = int(a)
	}
	g.Tensors = make([]TensorInfo, 0, nTensors)
	for i := uint64(0); i < nTensors; i++ {
		t, err := p.tensorInfo()
		if err != nil {
			return nil, fmt.Errorf("tensor info %d: %w", i, err)
		}
		if _, dup := g.tIdx[t.Name]; dup {
			return nil, fmt.Errorf("tensor %q appears twice", t.Name)
		}
		g.tIdx[t.Name] = len(g.Tensors)
		g.Tensors = append(g.Tensors, t)
	}
	g.DataOffset = alignUp(p.pos, int64(g.Alignment))
	dataLen := size - g.DataOffset
	for i := range g.Tensors {
		t := &g.Tensors[i]
		if t.Offset%uint64(g.Alignment) != 0 {
			return nil, fmt.Errorf("tensor %q: data offset %d not a multiple of alignment %d", t.Name, t.Offset, g.Alignment)
		}
		if dataLen < 0 || t.Offset > uint64(dataLen) || t.Size() > uint64(dataLen)-t.Offset {
			return nil, fmt.Errorf("tensor %q: data [%d, +%d) runs past the end of the file (data section is %d bytes; truncated?)",
				t.Name, t.Offset, t.Size(), max(dataLen, 0))
		}
	}
	return g, nil
}

// KV returns the value of key.
func (g *File) KV(key string) (Value, bool) {
	i, ok := g.kvIdx[key]
	if !ok {
		return Value{}, false
	}
	return g.KVs[i].Value, true
}

// KVString returns a string key or "".
func (g *File) KVString(key string) string {
	v, _ := g.KV(key)
	s, _ := v.Str()
	return s
}

// Tensor finds a tensor by name.
func (g *File) Tensor(name string) (*TensorInfo, bool) {
	i, ok := g.tIdx[name]
	if !ok {
		return nil, false
	}
	return &g.Tensors[i], true
}

// TensorReader returns a reader over one tensor's data.
func (g *File) TensorReader(t *TensorInfo) *io.SectionReader {
	return io.NewSectionReader(g.f, g.DataOffset+int64(t.Offset), int64(t.Size()))
}

// ReadTensor reads one tensor's raw bytes.
func (g *File) ReadTensor(t *TensorInfo) ([]byte, error) {
	buf := make([]byte, t.Size())
	if _, err := io.ReadFull(g.TensorReader(t), buf); err != nil {
		return nil, fmt.Errorf("%s: tensor %q: reading data: %w", g.Path, t.Name, err)
	}
	return buf, nil
}

// ReadTensorF32 reads one tensor and converts it to float32 (F32, F16, BF16, Q8_0).
func (g *File) ReadTensorF32(t *TensorInfo) ([]float32, error) {
	raw, err := g.ReadTensor(t)
	if err != nil {
		return nil, err
	}
	out, err := ToFloat32(t.Type, raw, int(t.Elements()))
	if err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %w", g.Path, t.Name, err)
	}
	return out, nil
}

func alignUp(x, a int64) int64 { return (x + a - 1) / a * a }

// parser reads little-endian fields, tracking the position; after the first
// error every read returns zero and p.err holds the error.
type parser struct {
	r    *bufio.Reader
	pos  int64
	size int64
	err  error
	buf  [8]byte
}

func (p *parser) left() int64 { return p.size - p.pos }

func (p *parser) read(b []byte) error {
	if p.err != nil {
		return p.err
	}
	n, err := io.ReadFull(p.r, b)
	p.pos += int64(n)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("unexpected end of file at byte %d (truncated?)", p.pos)
		}
		p.err = err
	}
	return p.err
}

func (p *parser) u8() uint8   { p.read(p.buf[:1]); return p.buf[0] }
func (p *parser) u16() uint16 { p.read(p.buf[:2]); return binary.LittleEndian.Uint16(p.buf[:]) }
func (p *parser) u32() uint32 { p.read(p.buf[:4]); return binary.LittleEndian.Uint32(p.buf[:]) }
func (p *parser) u64() uint64 { p.read(p.buf[:8]); return binary.LittleEndian.Uint64(p.buf[:]) }

func (p *parser) fail(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf(format, args...)
	}
}

func (p *parser) str() string {
	n := p.u64()
	if p.err != nil {
		return ""
	}
	if n > uint64(p.left()) {
		p.fail("string of %d bytes at byte %d runs past the end of the file", n, p.pos)
		return ""
	}
	b := make([]byte, n)
	p.read(b)
	return string(b)
}

// maxNesting bounds nested arrays (llama.cpp itself allows none).
const maxNesting = 4

func (p *parser) value(t ValueType, depth int) Value {
	if p.err != nil {
		return Value{}
	}
	v := Value{Type: t}
	if r := scalarReader(t); r.one != nil {
		v.V = r.one(p)
	} else if t != ValArray {
		p.fail("unknown value type %d", uint32(t))
	} else if depth >= maxNesting {
		p.fail("arrays nested deeper than %d", maxNesting)
	} else {
		v.V = p.array(depth)
	}
	return v
}

func (p *parser) array(depth int) Array {
	et := ValueType(p.u32())
	n := p.u64()
	if p.err != nil {
		return Array{}
	}
	minSize := uint64(et.fixedSize())
	switch et {
	case ValString:
		minSize = 8
	case ValArray:
		minSize = 12
	}
	if minSize == 0 {
		p.fail("array of unknown value type %d", uint32(et))
		return Array{}
	}
	if n > uint64(p.left())/minSize {
		p.fail("array of %d %s values at byte %d runs past the end of the file", n, et, p.pos)
		return Array{}
	}
	a := Array{Elem: et}
	if et == ValArray {
		a.Data = readN(p, n, func() Array { return p.array(depth + 1) })
	} else {
		a.Data = scalarReader(et).many(p, n)
	}
	return a
}

// reader reads one value of a type that is not an array (one), or n of
// them as the array's []T (many).
type reader struct {
	one  func(p *parser) any
	many func(p *parser, n uint64) any
}

func typedReader[T any](f func(p *parser) T) reader {
	return reader{
		one:  func(p *parser) any { return f(p) },
		many: func(p *parser, n uint64) any { return readN(p, n, func() T { return f(p) }) },
	}
}

// readers holds the value types but arrays, by type; the zero reader for others.
var readers = [...]reader{
	ValUint8: {
		one: func(p *parser) any { return p.u8() },
		many: func(p *parser, n uint64) any {
			d := make([]uint8, n)
			p.read(d)
			return d
		},
	},
	ValInt8:    typedReader(func(p *parser) int8 { return int8(p.u8()) }),
	ValUint16:  typedReader((*parser).u16),
	ValInt16:   typedReader(func(p *parser) int16 { return int16(p.u16()) }),
	ValUint32:  typedReader((*parser).u32),
	ValInt32:   typedReader(func(p *parser) int32 { return int32(p.u32()) }),
	ValFloat32: typedReader(func(p *parser) float32 { return math.Float32frombits(p.u32()) }),
	ValBool: typedReader(func(p *parser) bool {
		b := p.u8()
		if b > 1 {
			p.fail("bool value %d (want 0 or 1)", b)
		}
		return b == 1
	}),
	ValString:  typedReader((*parser).str),
	ValUint64:  typedReader((*parser).u64),
	ValInt64:   typedReader(func(p *parser) int64 { return int64(p.u64()) }),
	ValFloat64: typedReader(func(p *parser) float64 { return math.Float64frombits(p.u64()) }),
}

func scalarReader(t ValueType) reader {
	if int(t) < len(readers) {
		return readers[t]
	}
	return reader{}
}

func readN[T any](p *parser, n uint64, f func() T) []T {
	d := make([]T, n)
	for i := range d {
		d[i] = f()
		if p.err != nil {
			return nil
		}
	}
	return d
}

func (p *parser) tensorInfo() (TensorInfo, error) {
	var t TensorInfo
	t.Name = p.str()
	if p.err != nil {
		return t, p.err
	}
	if len(t.Name) > MaxNameLen {
		return t, fmt.Errorf("tensor name %.80q… is %d bytes (llama.cpp allows %d)", t.Name, len(t.Name), MaxNameLen)
	}
	// After a failed read p's buffer holds stale bytes: check p.err before
	// using any count (a truncated ndims once allocated up to 2^32 dims).
	nd := p.u32()
	if p.err != nil {
		return t, fmt.Errorf("tensor %q: %w", t.Name, p.err)
	}
	if nd > MaxDims {
		return t, fmt.Errorf("tensor %q: %d dimensions (max %d)", t.Name, nd, MaxDims)
	}
	t.Shape = make([]uint64, nd)
	elems := uint64(1)
	for i := range t.Shape {
		t.Shape[i] = p.u64()
		if p.err != nil {
			return t, fmt.Errorf("tensor %q: %w", t.Name, p.err)
		}
		if d := t.Shape[i]; d != 0 && elems > math.MaxInt64/d {
			return t, fmt.Errorf("tensor %q: shape %v overflows", t.Name, t.Shape[:i+1])
		}
		elems *= t.Shape[i]
	}
	t.Type = Type(p.u32())
	t.Offset = p.u64()
	if p.err != nil {
		return t, fmt.Errorf("tensor %q: %w", t.Name, p.err)
	}
	ti, ok := LookupType(t.Type)
	if !ok {
		return t, fmt.Errorf("tensor %q: unknown ggml type %d", t.Name, uint32(t.Type))
	}
	if len(t.Shape) > 0 && t.Shape[0]%uint64(ti.BlockSize) != 0 {
		return t, fmt.Errorf("tensor %q: row length %d is not a multiple of %s's block size %d", t.Name, t.Shape[0], ti.Name, ti.BlockSize)
	}
	if elems/uint64(ti.BlockSize) > math.MaxInt64/uint64(ti.TypeSize) {
		return t, fmt.Errorf("tensor %q: shape %v too large", t.Name, t.Shape)
	}
	return t, nil
}

// ReadRowsF32 reads the given rows (indices along ne1.., in any order) of a
// tensor as float32, row after row, without reading the rest of it.
func (g *File) ReadRowsF32(t *TensorInfo, rows []int) ([]float32, error) {
	ti, ok := LookupType(t.Type)
	if !ok {
		return nil, fmt.Errorf("%s: tensor %q: unknown type", g.Path, t.Name)
	}
	cols := int(t.Cols())
	rb := cols / ti.BlockSize * ti.TypeSize
	out := make([]float32, 0, len(rows)*cols)
	buf := make([]byte, rb)
	for _, r := range rows {
		if r < 0 || uint64(r) >= t.Rows() {
			return nil, fmt.Errorf("%s: tensor %q: row %d out of range", g.Path, t.Name, r)
		}
		if _, err := g.f.ReadAt(buf, g.DataOffset+int64(t.Offset)+int64(r)*int64(rb)); err != nil {
			return nil, fmt.Errorf("%s: tensor %q: reading row %d: %w", g.Path, t.Name, r, err)
		}
		x, err := ToFloat32(t.Type, buf, cols)
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w", g.Path, t.Name, err)
		}
		out = append(out, x...)
	}
	return out, nil
}
