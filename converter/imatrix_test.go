package converter

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/gguf"
)

const imTensor = "blk.0.attn_q.weight"

// importantCols are the columns the test imatrix marks 100x more important.
func imValues() []float32 {
	v := make([]float32, 64)
	for j := range v {
		v[j] = 1
		if j < 8 {
			v[j] = 100
		}
	}
	return v
}

func writeLegacyImatrix(t *testing.T, p string, ncall int32) {
	var b []byte
	le := binary.LittleEndian
	b = le.AppendUint32(b, 1)
	b = le.AppendUint32(b, uint32(len(imTensor)))
	b = append(b, imTensor...)
	b = le.AppendUint32(b, uint32(ncall))
	b = le.AppendUint32(b, 64)
	for _, x := range imValues() {
		b = le.AppendUint32(b, math.Float32bits(x*float32(ncall)))
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeGGUFImatrix(t *testing.T, p string) {
	sum, _ := gguf.FromFloat32(gguf.TypeF32, func() []float32 {
		v := imValues()
		for i := range v {
			v[i] *= 5
		}
		return v
	}())
	cnt, _ := gguf.FromFloat32(gguf.TypeF32, []float32{5})
	infos := []gguf.TensorInfo{
		{Name: imTensor + ".in_sum2", Shape: []uint64{64, 1}, Type: gguf.TypeF32},
		{Name: imTensor + ".counts", Shape: []uint64{1, 1}, Type: gguf.TypeF32},
	}
	kvs := []gguf.KV{{Key: "general.type", Value: gguf.Str("imatrix")}}
	f, _ := gguf.CreateAtomic(p)
	defer f.Abort()
	w, err := gguf.NewWriter(f, kvs, infos)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteTensor(0, sum)
	w.WriteTensor(1, cnt)
	if err := w.Finish(kvs); err != nil {
		t.Fatal(err)
	}
	f.Commit()
}

func TestLoadImatrixBothFormats(t *testing.T) {
	dir := t.TempDir()
	legacy, gg := filepath.Join(dir, "imatrix.dat"), filepath.Join(dir, "imatrix.gguf")
	writeLegacyImatrix(t, legacy, 3)
	writeGGUFImatrix(t, gg)
	for _, p := range []string{legacy, gg} {
		m, err := LoadImatrix(p)
		if err != nil {
			t.Fatal(err)
		}
		v := m[imTensor]
		if len(v) != 64 || v[0] != 100 || v[63] != 1 {
			t.Fatalf("%s: %v", p, v)
		}
	}
	bad := filepath.Join(dir, "bad.dat")
	os.WriteFile(bad, []byte{0xff, 0xff, 0xff, 0x7f, 1, 2}, 0o644)
	if _, err := LoadImatrix(bad); err == nil {
		t.Fatal("garbage imatrix accepted")
	}
}

// TestImatrixLowersErrorOnImportantColumns: with the imatrix the error on the
// 8 important columns of blk.0.attn_q must drop.
func TestImatrixLowersErrorOnImportantColumns(t *testing.T) {
	dir := t.TempDir()
	in := tinyModel(t, dir)
	im := filepath.Join(dir, "im.dat")
	writeLegacyImatrix(t, im, 1)
	errImportant := func(imatrix string) float64 {
		out := filepath.Join(dir, "o.gguf")
		convert(t, in, out, Options{Method: "kmeans", Imatrix: imatrix, Sharing: "tensor", CodebookSize: 64})
		g, _ := gguf.Open(in)
		defer g.Close()
		p, _ := gguf.Open(out)
		defer p.Close()
		tables, pts, err := format.Read(p)
		if err != nil {
			t.Fatal(err)
		}
		pt := pts[imTensor]
		raw, _ := p.ReadTensor(pt.Info)
		got := pt.Decode(raw, tables[pt.Table].BuildLUT(256))
		ti, _ := g.Tensor(imTensor)
		want, _ := g.ReadTensorF32(ti)
		var e float64
		for r := 0; r < 64; r++ {
			for j := 0; j < 8; j++ {
				d := float64(want[r*64+j] - got[r*64+j])
				e += d * d
			}
		}
		return e
	}
	plain, weighted := errImportant(""), errImportant(im)
	t.Logf("squared error on important columns: %.5f without imatrix, %.5f with", plain, weighted)
	if weighted >= plain*0.8 {
		t.Fatalf("imatrix did not lower the error on important columns: %.5f vs %.5f", weighted, plain)
	}
}
