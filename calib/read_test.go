package calib

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/pocketgguf/pocketgguf/gguf"
)

const imTensor = "blk.0.attn_q.weight"

// imValues is a column importance that tells every column apart.
func imValues() []float32 {
	v := make([]float32, 64)
	for j := range v {
		v[j] = float32(j + 1)
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

func TestLoadBothFormats(t *testing.T) {
	dir := t.TempDir()
	legacy, gg := filepath.Join(dir, "imatrix.dat"), filepath.Join(dir, "imatrix.gguf")
	writeLegacyImatrix(t, legacy, 3)
	writeGGUFImatrix(t, gg)
	for _, p := range []string{legacy, gg} {
		m, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		v := m[imTensor]
		if len(v) != 64 || v[0] != 1 || v[63] != 64 {
			t.Fatalf("%s: %v", p, v)
		}
	}
	bad := filepath.Join(dir, "bad.dat")
	os.WriteFile(bad, []byte{0xff, 0xff, 0xff, 0x7f, 1, 2}, 0o644)
	if _, err := Load(bad); err == nil {
		t.Fatal("garbage imatrix accepted")
	}
}
