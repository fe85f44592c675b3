package converter

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/gguf"
)

// ruleDecode rebuilds an additive tensor straight from docs/FORMAT.md: each
// code read with the one-code rule (format.PQACode, ggml_pqa_code), each
// codebook's decoded entries added with m ascending, times the row scale.
func ruleDecode(pt *format.Tensor, tb *format.Table, raw []byte) []float32 {
	rows, cols, v, M := int(pt.Info.Rows()), int(pt.Info.Cols()), pt.Type.V, pt.Type.Codebooks
	P := pt.Type.CodesPerRow(cols)
	per := tb.BuildLUT(16)
	out := make([]float32, rows*cols)
	for r := 0; r < rows; r++ {
		s := float32(1)
		if pt.Scales != nil {
			s = pt.Scales[r]
		}
		for j := 0; j < cols/v; j++ {
			for t := 0; t < v; t++ {
				var w float32
				for m := 0; m < M; m++ {
					c := int(format.PQACode(raw, rows, P, r, j*M+m))
					e := per[(m*16+c)*v+t]
					if m == 0 {
						w = e
					} else {
						w += e
					}
				}
				out[r*cols+j*v+t] = s * w
			}
		}
	}
	return out
}

// A --prefer speed conversion of stories260K (its 172-row ffn_down weights
// leave 12 rows after the groups of 32) is a version-2 file of additive
// tensors, and unpacking it gives exactly the weights the rule rebuilds.
func TestAdditiveStoriesUnpackIsTheRule(t *testing.T) {
	in := stories(t)
	dir := t.TempDir()
	for _, opt := range []Options{{Prefer: PreferSpeed}, {Prefer: PreferSpeed, BPW: 2.5, Threads: 2}} {
		pq := filepath.Join(dir, "s.pq.gguf")
		res := convert(t, in, pq, opt)
		un := filepath.Join(dir, "s.f32.gguf")
		if err := Unpack(context.Background(), pq, un, gguf.TypeF32, nil); err != nil {
			t.Fatal(err)
		}
		g, err := gguf.Open(pq)
		if err != nil {
			t.Fatal(err)
		}
		u, err := gguf.Open(un)
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := g.KV(format.KeyVersion); v.V != uint32(format.VersionAdditive) {
			t.Fatalf("bpw %g: %s = %v, want %d", opt.BPW, format.KeyVersion, v.V, format.VersionAdditive)
		}
		tables, pts, err := format.Read(g)
		if err != nil {
			t.Fatal(err)
		}
		additive := 0
		for name, pt := range pts {
			if !pt.Type.Additive() {
				t.Fatalf("bpw %g: %s is %s under --prefer speed", opt.BPW, name, pt.Type.Name)
			}
			additive++
			tb := tables[pt.Table]
			if tb.Codebooks != pt.Type.Codebooks {
				t.Fatalf("%s: table %s has %d codebooks", name, pt.Table, tb.Codebooks)
			}
			raw, _ := g.ReadTensor(pt.Info)
			want := ruleDecode(pt, tb, raw)
			ti, _ := u.Tensor(name)
			got, err := u.ReadTensorF32(ti)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("bpw %g: %s weight %d: unpacked %v, the rule gives %v", opt.BPW, name, i, got[i], want[i])
				}
			}
			if d := pt.Decode(raw, pt.LUT(tb)); !equalF32(d, want) {
				t.Fatalf("%s: Decode differs from the rule", name)
			}
			if math.Abs(float64(relErr(u, in, name))-res.RelRMSE[name]) > 1e-4 {
				t.Fatalf("%s: stored rel_rmse %.5f, unpacked gives %.5f", name, res.RelRMSE[name], relErr(u, in, name))
			}
		}
		g.Close()
		u.Close()
		if additive == 0 {
			t.Fatalf("bpw %g: no PQ tensor", opt.BPW)
		}
		rel := reconstruction(t, in, pq)
		t.Logf("bpw %g: %d additive tensors, %.3f bpw, rel RMS %.4f", opt.BPW, additive, res.BPW, rel)
		if rel > 0.40 {
			t.Fatalf("bpw %g: rel RMS %.4f", opt.BPW, rel)
		}
	}
}

func equalF32(a, b []float32) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

// relErr is the relative RMS error of tensor name of g against the same tensor of ref.
func relErr(g *gguf.File, ref, name string) float64 {
	r, err := gguf.Open(ref)
	if err != nil {
		return math.NaN()
	}
	defer r.Close()
	ta, _ := r.Tensor(name)
	tb, _ := g.Tensor(name)
	a, _ := r.ReadTensorF32(ta)
	b, _ := g.ReadTensorF32(tb)
	var n, d float64
	for i := range a {
		e := float64(a[i] - b[i])
		n += e * e
		d += float64(a[i]) * float64(a[i])
	}
	return math.Sqrt(n / d)
}

// Without --prefer speed nothing changes: version 1, no codebooks keys, and
// Prefer quality writes the bytes of the zero Options.
func TestQualityKeepsVersionOneBytes(t *testing.T) {
	in := stories(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.gguf"), filepath.Join(dir, "b.gguf")
	convert(t, in, a, Options{BPW: 2.5})
	convert(t, in, b, Options{BPW: 2.5, Prefer: PreferQuality})
	if !bytes.Equal(fileBytes(t, a), fileBytes(t, b)) {
		t.Fatal("Prefer quality and the zero Options wrote different bytes")
	}
	g, err := gguf.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if v, _ := g.KV(format.KeyVersion); v.V != uint32(format.Version) {
		t.Fatalf("%s = %v", format.KeyVersion, v.V)
	}
	for _, kv := range g.KVs {
		if strings.HasSuffix(kv.Key, ".codebooks") {
			t.Fatalf("plain file has %s", kv.Key)
		}
	}
	for _, ti := range g.Tensors {
		if ty, ok := format.LookupPQ(ti.Type); ok && ty.Additive() {
			t.Fatalf("%s is %s under quality", ti.Name, ty.Name)
		}
	}
}

// Flags that cannot give an additive type, and files whose additive keys
// are wrong, fail naming the flag, tensor or key.
func TestAdditiveBadInput(t *testing.T) {
	dir := t.TempDir()
	tiny := tinyModel(t, dir)
	for _, c := range []struct {
		opt  Options
		want []string
	}{
		{Options{Prefer: "fast"}, []string{"--prefer", "fast"}},
		{Options{Prefer: PreferSpeed, VecLen: 2}, []string{"--prefer speed", "--vec-len 2", "--prefer quality"}},
		{Options{Prefer: PreferSpeed, CodebookSize: 64}, []string{"--codebook-size 64", "16"}},
		{Options{Prefer: PreferSpeed, Method: "pocketllm"}, []string{"--method pocketllm", "--prefer quality"}},
		{Options{OutputTensorType: "pqa_9x9"}, []string{"--output-tensor-type", "pqa_4x8"}},
	} {
		_, err := Convert(context.Background(), tiny, filepath.Join(dir, "x.gguf"), c.opt)
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Fatalf("%+v: error %v, want it to mention %q", c.opt, err, w)
			}
		}
	}
	// A PQ type picked by name works under quality too.
	pq := filepath.Join(dir, "mixed.gguf")
	convert(t, tiny, pq, Options{CompressEmbeddings: true, OutputTensorType: "pqa_8x8"})
	g, err := gguf.Open(pq)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if ti, _ := g.Tensor(Output); ti.Type != 109 {
		t.Fatalf("output.weight is %s, want pqa_8x8", gguf.TypeName(ti.Type))
	}
	if v, _ := g.KV(format.KeyVersion); v.V != uint32(format.VersionAdditive) {
		t.Fatalf("a file with one additive tensor has %s = %v", format.KeyVersion, v.V)
	}
	_, pts, err := format.Read(g)
	if err != nil {
		t.Fatal(err)
	}
	table := pts[Output].Table
	edit := func(name string, change func(kvs []gguf.KV) []gguf.KV) string {
		kvs := change(append([]gguf.KV(nil), g.KVs...))
		p := filepath.Join(dir, name)
		if err := gguf.Rewrite(g, p, kvs, func(int) ([]byte, error) { return nil, nil }); err != nil {
			t.Fatal(err)
		}
		return p
	}
	set := func(key string, v gguf.Value) func([]gguf.KV) []gguf.KV {
		return func(kvs []gguf.KV) []gguf.KV {
			for i := range kvs {
				if kvs[i].Key == key {
					kvs[i].Value = v
				}
			}
			return kvs
		}
	}
	drop := func(key string) func([]gguf.KV) []gguf.KV {
		return func(kvs []gguf.KV) []gguf.KV {
			var out []gguf.KV
			for _, kv := range kvs {
				if kv.Key != key {
					out = append(out, kv)
				}
			}
			return out
		}
	}
	for _, c := range []struct {
		name string
		path string
		want []string
	}{
		{"version 1", edit("v1.gguf", set(format.KeyVersion, gguf.U32(1))), []string{format.KeyTableCodebooks(table), "version 2"}},
		{"version 3", edit("v3.gguf", set(format.KeyVersion, gguf.U32(3))), []string{format.KeyVersion, "versions 1 and 2"}},
		{"codebooks 3", edit("m3.gguf", set(format.KeyTableCodebooks(table), gguf.U32(3))), []string{table}},
		{"no codebooks", edit("m0.gguf", drop(format.KeyTableCodebooks(table))), []string{Output, "pqa_8x8", format.KeyTableCodebooks(table)}},
		{"k 17", edit("k17.gguf", set(format.KeyTableK(table), gguf.U32(17))), []string{table}},
	} {
		f, err := gguf.Open(c.path)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = format.Read(f)
		f.Close()
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Fatalf("%s: error %v, want it to mention %q", c.name, err, w)
			}
		}
	}
}
