package gguf

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tinyFile builds a small valid GGUF in memory: two keys, an F32 tensor and an F16 one.
func tinyFile(t testing.TB) []byte {
	kvs := []KV{
		{"general.architecture", Str("llama")},
		{"general.alignment", U32(32)},
		{"test.scales", U16s([]uint16{FloatToHalf(1), FloatToHalf(-2)})},
		{"test.names", Strs([]string{"a", "bc"})},
	}
	ts := []TensorInfo{
		{Name: "a.weight", Shape: []uint64{4, 2}, Type: TypeF32},
		{Name: "b.weight", Shape: []uint64{3}, Type: TypeF16},
	}
	var buf memFile
	w, err := NewWriter(&buf, kvs, ts)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := FromFloat32(TypeF32, []float32{1, 2, 3, 4, 5, 6, 7, 8})
	b, _ := FromFloat32(TypeF16, []float32{.5, -1, 2})
	if err := w.WriteTensor(0, a); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTensor(1, b); err != nil {
		t.Fatal(err)
	}
	if err := w.Finish(kvs); err != nil {
		t.Fatal(err)
	}
	return buf.b
}

// memFile is an in-memory io.WriterAt.
type memFile struct{ b []byte }

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	if end := int(off) + len(p); end > len(m.b) {
		m.b = append(m.b, make([]byte, end-len(m.b))...)
	}
	return copy(m.b[off:], p), nil
}

func TestTinyFileParses(t *testing.T) {
	data := tinyFile(t)
	g, err := Parse(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.KVs) != 4 || len(g.Tensors) != 2 {
		t.Fatalf("got %d keys, %d tensors", len(g.KVs), len(g.Tensors))
	}
	sc, ok := g.KVs[2].Value.Float32s()
	if !ok || sc[0] != 1 || sc[1] != -2 {
		t.Fatalf("u16 half array read back as %v", sc)
	}
	if g.Tensors[1].Offset != 32 {
		t.Fatalf("second tensor offset %d, want 32 (aligned)", g.Tensors[1].Offset)
	}
}

func writeTemp(t *testing.T, data []byte) string {
	p := filepath.Join(t.TempDir(), "bad.gguf")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBadFilesErrorClearly(t *testing.T) {
	good := tinyFile(t)
	patch := func(off int, v uint64, n int) []byte {
		b := bytes.Clone(good)
		if n == 8 {
			binary.LittleEndian.PutUint64(b[off:], v)
		} else {
			binary.LittleEndian.PutUint32(b[off:], uint32(v))
		}
		return b
	}
	// Offset of the first key's string length: magic 4 + version 4 + counts 16.
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "unexpected end of file"},
		{"wrong magic", append([]byte("GGML"), good[4:]...), "not a GGUF file"},
		{"version 7", patch(4, 7, 4), "version 7"},
		{"2^60 tensors", patch(8, 1<<60, 8), "tensors, more than the file can hold"},
		{"2^60 keys", patch(16, 1<<60, 8), "metadata keys, more than the file can hold"},
		{"2^40-byte key", patch(24, 1<<40, 8), "runs past the end of the file"},
		{"truncated header", good[:130], "unexpected end of file"},
		{"truncated data", good[:len(good)-40], "runs past the end of the file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeTemp(t, c.data)
			_, err := Open(p)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("error %q: want it to name the file and say %q", err, c.want)
			}
		})
	}
}

func TestUnknownTensorTypeNamesTensor(t *testing.T) {
	data := tinyFile(t)
	g, _ := Parse(bytes.NewReader(data), int64(len(data)))
	_ = g
	// Find the type field of "b.weight": name, n_dims=1, ne0, then type.
	i := bytes.Index(data, []byte("b.weight")) + len("b.weight") + 4 + 8
	binary.LittleEndian.PutUint32(data[i:], 77)
	_, err := Parse(bytes.NewReader(data), int64(len(data)))
	if err == nil || !strings.Contains(err.Error(), `"b.weight"`) || !strings.Contains(err.Error(), "unknown ggml type 77") {
		t.Fatalf("got %v", err)
	}
}

func TestQ8_0MatchesGGMLRounding(t *testing.T) {
	x := make([]float32, 64)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*0.7)) * float32(i+1)
	}
	x[40] = 0.5 // exact half-way cases must round away from zero after scaling
	raw, err := FromFloat32(TypeQ8_0, x)
	if err != nil {
		t.Fatal(err)
	}
	for b := 0; b < 2; b++ {
		blk := x[b*32 : b*32+32]
		var amax float32
		for _, v := range blk {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		d := amax / 127
		if got := binary.LittleEndian.Uint16(raw[b*34:]); got != FloatToHalf(d) {
			t.Fatalf("block %d: d bits %#x want %#x", b, got, FloatToHalf(d))
		}
		for j, v := range blk {
			q := int8(raw[b*34+2+j])
			want := math.Round(float64(v * (1 / d)))
			if float64(q) != want {
				t.Fatalf("block %d weight %d: q=%d want %v", b, j, q, want)
			}
		}
	}
	y, err := ToFloat32(TypeQ8_0, raw, len(x))
	if err != nil {
		t.Fatal(err)
	}
	for i := range x {
		d := HalfToFloat(binary.LittleEndian.Uint16(raw[i/32*34:]))
		if math.Abs(float64(y[i]-x[i])) > float64(d)*0.51+1e-6 {
			t.Fatalf("weight %d: %v -> %v (d=%v)", i, x[i], y[i], d)
		}
	}
}

func TestFloatConversionsRoundTrip(t *testing.T) {
	x := []float32{0, 1, -2.5, 65504, 1e-3, -7.25}
	for _, ty := range []Type{TypeF32, TypeF16, TypeBF16} {
		raw, err := FromFloat32(ty, x)
		if err != nil {
			t.Fatal(err)
		}
		y, err := ToFloat32(ty, raw, len(x))
		if err != nil {
			t.Fatal(err)
		}
		for i := range x {
			if rel := math.Abs(float64(y[i]-x[i])) / max(math.Abs(float64(x[i])), 1e-6); rel > 4e-3 {
				t.Fatalf("%s: %v -> %v", TypeName(ty), x[i], y[i])
			}
		}
	}
	if _, err := ToFloat32(2, make([]byte, 18), 32); err == nil || !strings.Contains(err.Error(), "q4_0") {
		t.Fatalf("q4_0 conversion: got %v, want an error naming q4_0", err)
	}
}

func TestReadRowsMatchesWholeTensor(t *testing.T) {
	data := tinyFile(t)
	p := writeTemp(t, data)
	g, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	all, _ := g.ReadTensorF32(&g.Tensors[0])
	rows, err := g.ReadRowsF32(&g.Tensors[0], []int{1, 0})
	if err != nil {
		t.Fatal(err)
	}
	for j := 0; j < 4; j++ {
		if rows[j] != all[4+j] || rows[4+j] != all[j] {
			t.Fatalf("rows %v, tensor %v", rows, all)
		}
	}
	if _, err := g.ReadRowsF32(&g.Tensors[0], []int{2}); err == nil {
		t.Fatal("row 2 of a 2-row tensor read")
	}
}

func TestDuplicatesAndHeaderLengthChecks(t *testing.T) {
	kvs := []KV{{Key: "a", Value: U32(1)}, {Key: "a", Value: U32(2)}}
	if _, err := NewWriter(&memFile{}, kvs, nil); err == nil || !strings.Contains(err.Error(), `"a" given twice`) {
		t.Fatalf("duplicate key: %v", err)
	}
	kvs = []KV{{Key: "s", Value: U16s([]uint16{1, 2})}}
	ts := []TensorInfo{{Name: "t", Shape: []uint64{2}, Type: TypeF32}}
	w, err := NewWriter(&memFile{}, kvs, ts)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteTensor(0, make([]byte, 8))
	if err := w.Finish([]KV{{Key: "s", Value: U16s(make([]uint16, 40))}}); err == nil || !strings.Contains(err.Error(), "changed length") {
		t.Fatalf("longer final header: %v", err)
	}
	if err := w.WriteTensor(0, make([]byte, 7)); err == nil {
		t.Fatal("short tensor data accepted")
	}
	// Two tensors with one name: the reader refuses the file.
	var m memFile
	ts = []TensorInfo{{Name: "t", Shape: []uint64{2}, Type: TypeF32}, {Name: "t", Shape: []uint64{2}, Type: TypeF32}}
	w, _ = NewWriter(&m, nil, ts)
	w.WriteTensor(0, make([]byte, 8))
	w.WriteTensor(1, make([]byte, 8))
	w.Finish(nil)
	if _, err := Parse(bytes.NewReader(m.b), int64(len(m.b))); err == nil || !strings.Contains(err.Error(), `tensor "t" appears twice`) {
		t.Fatalf("duplicate tensor: %v", err)
	}
}
