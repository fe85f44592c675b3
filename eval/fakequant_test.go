package eval

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/pocketgguf/pocketgguf/gguf"
	"github.com/pocketgguf/pocketgguf/quant"
)

func TestFakeQuantizeReplacesOnlyMatchingTensors(t *testing.T) {
	in := testdata(t, "models/stories260K.gguf")
	out := filepath.Join(t.TempDir(), "fq.gguf")
	pat := regexp.MustCompile(`attn_v\.weight$`)
	errs, size, err := FakeQuantizeSize(in, out, pat, quant.Options{Method: quant.MethodKMeans, V: 4, K: 16, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	// attn_v is 64×32 f32 (8192 bytes); as PQ: 512 8-bit indices + 16×4 f16 table.
	if st, _ := os.Stat(in); size != st.Size()-5*(8192-512-128) {
		t.Errorf("PQ size estimate %d, want %d", size, st.Size()-5*(8192-512-128))
	}
	if len(errs) != 5 {
		t.Fatalf("replaced %d tensors, want the 5 attn_v", len(errs))
	}
	a, _ := gguf.Open(in)
	defer a.Close()
	b, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := range a.Tensors {
		ta, tb := &a.Tensors[i], &b.Tensors[i]
		da, _ := a.ReadTensor(ta)
		db, _ := b.ReadTensor(tb)
		if !pat.MatchString(ta.Name) {
			if !bytes.Equal(da, db) {
				t.Errorf("%s changed", ta.Name)
			}
			continue
		}
		// the stored reconstruction has the relative error FakeQuantizeSize reported
		var num, den float64
		distinct := map[[4]uint32]bool{}
		for j := 0; j < len(da)/4; j++ {
			x := float64(math.Float32frombits(binary.LittleEndian.Uint32(da[4*j:])))
			y := float64(math.Float32frombits(binary.LittleEndian.Uint32(db[4*j:])))
			num += (x - y) * (x - y)
			den += x * x
		}
		for j := 0; j+16 <= len(db); j += 16 {
			var k [4]uint32
			for x := range k {
				k[x] = binary.LittleEndian.Uint32(db[j+4*x:])
			}
			distinct[k] = true
		}
		rel := math.Sqrt(num / den)
		if math.Abs(rel-errs[ta.Name]) > 1e-4 || rel < 0.05 || rel > 0.9 {
			t.Errorf("%s: rel RMSE %.4f, reported %.4f", ta.Name, rel, errs[ta.Name])
		}
		// without row scales every sub-vector is one of the K entries
		if len(distinct) > 16 || len(distinct) < 8 {
			t.Errorf("%s: %d distinct sub-vectors", ta.Name, len(distinct))
		}
	}
}
