package converter

import (
	"path/filepath"
	"testing"

	"github.com/pocketgguf/pocketgguf/calib"
	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/gguf"
)

const imTensor = "blk.0.attn_q.weight"

// importantCols are the columns the test imatrix marks 100x more important.
// writeImatrix writes imValues for imTensor as a legacy imatrix.dat.
func writeImatrix(t *testing.T, p string) {
	t.Helper()
	if err := calib.WriteDat(p, map[string][]float32{imTensor: imValues()}); err != nil {
		t.Fatal(err)
	}
}

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

// TestImatrixLowersErrorOnImportantColumns: with the imatrix the error on the
// 8 important columns of blk.0.attn_q must drop.
func TestImatrixLowersErrorOnImportantColumns(t *testing.T) {
	dir := t.TempDir()
	in := tinyModel(t, dir)
	im := filepath.Join(dir, "im.dat")
	writeImatrix(t, im)
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
