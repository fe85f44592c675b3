package converter

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/pocketgguf/pocketgguf/gguf"
	"github.com/pocketgguf/pocketgguf/testmodels"
)

func stories(t testing.TB) string {
	p := testmodels.SharedTestdata("models/stories260K.gguf")
	if p == "" {
		t.Skip("../shared/testdata/models/stories260K.gguf not present")
	}
	return p
}

// tinyModel generates the testmodels tiny preset into dir.
func tinyModel(t testing.TB, dir string) string {
	p := filepath.Join(dir, "tiny.gguf")
	if err := testmodels.Generate(p, testmodels.Presets["tiny"]); err != nil {
		t.Fatal(err)
	}
	return p
}

func convert(t testing.TB, in, out string, opt Options) *Result {
	t.Helper()
	res, err := Convert(context.Background(), in, out, opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// reconstruction unpacks pq to f32 and returns the relative RMS error of the
// compressed tensors against orig (Σ(W-Ŵ)²/ΣW² over all of them), and checks
// every other tensor and every key of orig is byte-identical in pq.
func reconstruction(t *testing.T, orig, pq string) float64 {
	t.Helper()
	un := filepath.Join(t.TempDir(), "unpacked.gguf")
	if err := Unpack(context.Background(), pq, un, gguf.TypeF32, nil); err != nil {
		t.Fatal(err)
	}
	a, err := gguf.Open(orig)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	p, err := gguf.Open(pq)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	b, err := gguf.Open(un)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, kv := range a.KVs {
		got, ok := p.KV(kv.Key)
		if !ok {
			t.Fatalf("key %s lost", kv.Key)
		}
		if kv.Key != "general.file_type" && !sameValue(kv.Value, got) {
			t.Fatalf("key %s changed", kv.Key)
		}
	}
	var num, den float64
	for i := range a.Tensors {
		ta := &a.Tensors[i]
		tp, _ := p.Tensor(ta.Name)
		tb, ok := b.Tensor(ta.Name)
		if !ok || tp == nil {
			t.Fatalf("tensor %s missing", ta.Name)
		}
		if tp.Type == ta.Type {
			ra, _ := a.ReadTensor(ta)
			rp, _ := p.ReadTensor(tp)
			if !bytes.Equal(ra, rp) {
				t.Fatalf("tensor %s kept as %s but bytes differ", ta.Name, gguf.TypeName(ta.Type))
			}
			continue
		}
		xa, err := a.ReadTensorF32(ta)
		if err != nil {
			t.Fatal(err)
		}
		xb, err := b.ReadTensorF32(tb)
		if err != nil {
			t.Fatal(err)
		}
		for j := range xa {
			d := float64(xa[j] - xb[j])
			num += d * d
			den += float64(xa[j]) * float64(xa[j])
		}
	}
	return math.Sqrt(num / den)
}

func sameValue(a, b gguf.Value) bool {
	var x, y bytes.Buffer
	encode := func(buf *bytes.Buffer, v gguf.Value) {
		var m memWriter
		w, err := gguf.NewWriter(&m, []gguf.KV{{Key: "k", Value: v}}, nil)
		if err == nil {
			w.Finish([]gguf.KV{{Key: "k", Value: v}})
		}
		buf.Write(m.b)
	}
	encode(&x, a)
	encode(&y, b)
	return a.Type == b.Type && bytes.Equal(x.Bytes(), y.Bytes())
}

type memWriter struct{ b []byte }

func (m *memWriter) WriteAt(p []byte, off int64) (int, error) {
	if end := int(off) + len(p); end > len(m.b) {
		m.b = append(m.b, make([]byte, end-len(m.b))...)
	}
	return copy(m.b[off:], p), nil
}

func fileBytes(t testing.TB, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// noLeftovers fails if dir holds anything but the listed names.
func noLeftovers(t *testing.T, dir string, keep ...string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	ok := map[string]bool{}
	for _, k := range keep {
		ok[k] = true
	}
	for _, e := range ents {
		if !ok[e.Name()] {
			t.Fatalf("leftover file %s in %s", e.Name(), dir)
		}
	}
}
