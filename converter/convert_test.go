package converter

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/gguf"
	"github.com/pocketgguf/pocketgguf/testmodels"
)

func TestStoriesConvertUnpackWithinBound(t *testing.T) {
	in := stories(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "s.pq.gguf")
	res := convert(t, in, out, Options{Seed: 1, Method: "kmeans"})
	if st, _ := os.Stat(out); st.Size() != res.OutputBytes || res.OutputBytes != res.Plan.Predicted {
		t.Fatalf("file %d bytes, result says %d, plan predicted %d", st.Size(), res.OutputBytes, res.Plan.Predicted)
	}
	rel := reconstruction(t, in, out)
	t.Logf("pq_4x8 default: %.3f bpw, rel RMSE %.4f", res.BPW, rel)
	// pq_4x8 (2 bits/weight) k-means with K=256 on v=4: ~0.35 relative RMSE per
	// tensor; embeddings are Q8_0 (~0.01). A broken decoder or packing gives ≥ 1.
	if rel > 0.40 || rel < 0.01 {
		t.Fatalf("relative RMSE %.4f outside [0.01, 0.40]", rel)
	}
	// Stored rel_rmse agrees with what unpack rebuilds.
	g, _ := gguf.Open(out)
	defer g.Close()
	_, pts, err := format.Read(g)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 35 {
		t.Fatalf("%d PQ tensors, want the 35 block weights", len(pts))
	}
}

func TestBPWTargetMetAndErrorFallsWithBits(t *testing.T) {
	in := stories(t)
	dir := t.TempDir()
	var prev float64 = 2
	for _, bpw := range []float64{2.2, 3, 4, 6, 10} {
		out := filepath.Join(dir, "s.gguf")
		res := convert(t, in, out, Options{BPW: bpw, Seed: 1, Method: "kmeans"})
		if res.BPW > bpw || res.BPW < bpw-0.35 {
			t.Fatalf("--bpw %v gave %.3f whole-file bpw", bpw, res.BPW)
		}
		rel := reconstruction(t, in, out)
		t.Logf("--bpw %v: %.3f bpw, %d bytes, rel RMSE %.4f", bpw, res.BPW, res.OutputBytes, rel)
		if rel >= prev {
			t.Fatalf("--bpw %v: rel RMSE %.4f not below %.4f at fewer bits", bpw, rel, prev)
		}
		prev = rel
	}
}

func TestTinyModelConvertUnpack(t *testing.T) {
	dir := t.TempDir()
	in := tinyModel(t, dir)
	out := filepath.Join(dir, "t.pq.gguf")
	res := convert(t, in, out, Options{BPW: 3, Seed: 3})
	rel := reconstruction(t, in, out)
	t.Logf("tiny --bpw 3 pocketllm: %.3f bpw, rel RMSE %.4f", res.BPW, rel)
	if res.BPW > 3 || rel > 0.45 {
		t.Fatalf("%.3f bpw, rel RMSE %.4f", res.BPW, rel)
	}
}

func TestDeterministicAcrossRunsAndThreads(t *testing.T) {
	dir := t.TempDir()
	in := tinyModel(t, dir)
	var outs [][]byte
	for i, th := range []int{1, 2, 2} {
		out := filepath.Join(dir, "o.gguf")
		convert(t, in, out, Options{BPW: 2.5, Seed: 7, Threads: th, Epochs: 5, Method: "pocketllm"})
		outs = append(outs, fileBytes(t, out))
		if i > 0 && !bytes.Equal(outs[0], outs[i]) {
			t.Fatalf("run %d (threads %d) differs from run 0 (threads 1)", i, th)
		}
	}
	out := filepath.Join(dir, "o.gguf")
	convert(t, in, out, Options{BPW: 2.5, Seed: 8, Threads: 2, Epochs: 5, Method: "pocketllm"})
	if bytes.Equal(outs[0], fileBytes(t, out)) {
		t.Fatal("a different seed gave identical bytes: the seed is not used")
	}
}

func TestBadInputsClearErrorsNoOutput(t *testing.T) {
	dir := t.TempDir()
	tiny := tinyModel(t, dir)
	good := fileBytes(t, tiny)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	trunc := write("trunc.gguf", good[:len(good)-1000])
	magic := write("magic.gguf", append([]byte("GGML"), good[4:]...))
	q4 := quantizedModel(t, dir)
	odd := testmodels.Presets["tiny"]
	odd.FFN = 168 // ffn_down rows of 168: a multiple of 8 but not of 16
	oddPath := filepath.Join(dir, "odd.gguf")
	if err := testmodels.Generate(oddPath, odd); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, in string
		opt      Options
		want     []string
	}{
		{"nonexistent", filepath.Join(dir, "nope.gguf"), Options{}, []string{"nope.gguf", "no such file"}},
		{"truncated", trunc, Options{}, []string{"trunc.gguf", "truncated"}},
		{"wrong magic", magic, Options{}, []string{"magic.gguf", "not a GGUF"}},
		{"unsupported type", q4, Options{}, []string{"q4.gguf", "blk.0.attn_q.weight", "q4_0"}},
		{"row not divisible", oddPath, Options{VecLen: 8, CodebookBits: 12}, []string{"blk.0.ffn_down.weight", "--vec-len"}},
		{"impossible bpw", tiny, Options{BPW: 0.5}, []string{"--bpw 0.5", "bits per weight"}},
		{"bad sharing", tiny, Options{Sharing: "layer"}, []string{"--sharing"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			odir := t.TempDir()
			_, err := Convert(context.Background(), c.in, filepath.Join(odir, "out.gguf"), c.opt)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not mention %q", err, w)
				}
			}
			noLeftovers(t, odir)
		})
	}
}

// quantizedModel writes a copy of the tiny model whose blk.0.attn_q.weight is Q4_0.
func quantizedModel(t *testing.T, dir string) string {
	src := tinyModel(t, t.TempDir())
	g, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	infos := append([]gguf.TensorInfo(nil), g.Tensors...)
	for i := range infos {
		if infos[i].Name == "blk.0.attn_q.weight" {
			infos[i].Type = format.GGMLType(2)
		}
	}
	p := filepath.Join(dir, "q4.gguf")
	f, _ := gguf.CreateAtomic(p)
	defer f.Abort()
	w, err := gguf.NewWriter(f, g.KVs, infos)
	if err != nil {
		t.Fatal(err)
	}
	for i := range infos {
		data, _ := g.ReadTensor(&g.Tensors[i])
		if infos[i].Type != g.Tensors[i].Type {
			data = make([]byte, infos[i].Size())
		}
		if err := w.WriteTensor(i, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finish(g.KVs); err != nil {
		t.Fatal(err)
	}
	f.Commit()
	return p
}

func TestCancelledLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	in := tinyModel(t, dir)
	odir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Convert(ctx, in, filepath.Join(odir, "o.gguf"), Options{}); err == nil {
		t.Fatal("cancelled conversion succeeded")
	}
	noLeftovers(t, odir)
}

func TestExistingOutputUntouchedOnError(t *testing.T) {
	dir := t.TempDir()
	in := tinyModel(t, dir)
	out := filepath.Join(dir, "keep.gguf")
	os.WriteFile(out, []byte("precious"), 0o644)
	if _, err := Convert(context.Background(), in, out, Options{BPW: 0.1}); err == nil {
		t.Fatal("no error")
	}
	if string(fileBytes(t, out)) != "precious" {
		t.Fatal("existing output overwritten by a failed conversion")
	}
}

func TestInspectTotals(t *testing.T) {
	dir := t.TempDir()
	in := tinyModel(t, dir)
	out := filepath.Join(dir, "o.gguf")
	res := convert(t, in, out, Options{BPW: 2.5, Method: "kmeans"})
	r, err := Inspect(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.FileBytes != res.OutputBytes || r.Elements != res.Elements {
		t.Fatalf("inspect: %d bytes %d weights; convert: %d, %d", r.FileBytes, r.Elements, res.OutputBytes, res.Elements)
	}
	var sum int64
	for _, tr := range r.Tensors {
		sum += tr.Bytes
		if tr.V > 0 && tr.RelRMSE == nil {
			t.Fatalf("%s: PQ tensor without rel_rmse", tr.Name)
		}
	}
	// Per-tensor bytes (data + own keys + table shares) plus non-pocket
	// metadata account for the file up to padding and the global pocket keys.
	if gap := r.FileBytes - sum - r.MetadataBytes; gap < 0 || gap > 2048 {
		t.Fatalf("per-tensor accounting leaves %d bytes unexplained", gap)
	}
}

func TestCompareSeesUnpackedError(t *testing.T) {
	dir := t.TempDir()
	in := tinyModel(t, dir)
	pq := filepath.Join(dir, "o.gguf")
	convert(t, in, pq, Options{Method: "kmeans"})
	un := filepath.Join(dir, "u.gguf")
	if err := Unpack(context.Background(), pq, un, gguf.TypeF32, nil); err != nil {
		t.Fatal(err)
	}
	c1, err := Compare(in, pq)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Compare(in, un)
	if err != nil {
		t.Fatal(err)
	}
	// Unpacked f32 has the input's type; its error must still be seen, and
	// equal the PocketGGUF's (unpack is exact in f32).
	if c1.Overall < 0.05 || c2.Overall != c1.Overall || len(c2.PerTensor) != len(c1.PerTensor) {
		t.Fatalf("pq %.5f over %d tensors, unpacked %.5f over %d", c1.Overall, len(c1.PerTensor), c2.Overall, len(c2.PerTensor))
	}
}

// warnings records Warn messages.
type warnings struct {
	nopEvents
	msgs []string
}

func (w *warnings) Warn(m string) { w.msgs = append(w.msgs, m) }

// TestInputTypes: f16, bf16 and q8_0 inputs convert and unpack with the same
// quality as f32; q8_0 input warns once per compressed tensor.
func TestInputTypes(t *testing.T) {
	for _, ty := range []string{"f16", "bf16", "q8_0"} {
		t.Run(ty, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testmodels.Presets["tiny"]
			cfg.Type, _ = gguf.ParseType(ty)
			in := filepath.Join(dir, "in.gguf")
			if err := testmodels.Generate(in, cfg); err != nil {
				t.Fatal(err)
			}
			w := &warnings{}
			out := filepath.Join(dir, "o.gguf")
			convert(t, in, out, Options{BPW: 3, Events: w})
			rel := reconstruction(t, in, out)
			if rel > 0.45 {
				t.Fatalf("rel RMSE %.4f", rel)
			}
			if (ty == "q8_0") != (len(w.msgs) > 0) {
				t.Fatalf("warnings for %s input: %q", ty, w.msgs)
			}
		})
	}
}

// TestRowScalesAndSharingRoundTrip: row scales are stored (as f16 bits), used
// by unpack, and every sharing mode reconstructs within the bound.
func TestRowScalesAndSharingRoundTrip(t *testing.T) {
	dir := t.TempDir()
	in := tinyModel(t, dir)
	for _, o := range []Options{{RowScale: "on", Sharing: "kind"}, {RowScale: "off", Sharing: "model"}, {RowScale: "on", Sharing: "tensor", CodebookSize: 32}} {
		out := filepath.Join(dir, "o.gguf")
		convert(t, in, out, o)
		rel := reconstruction(t, in, out)
		g, err := gguf.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		_, pts, err := format.Read(g)
		g.Close()
		if err != nil {
			t.Fatal(err)
		}
		pt := pts["blk.1.ffn_down.weight"]
		if (pt.Scales != nil) != (o.RowScale == "on") {
			t.Fatalf("%+v: scales present = %v", o, pt.Scales != nil)
		}
		t.Logf("row-scale %s, sharing %s: rel RMSE %.4f", o.RowScale, o.Sharing, rel)
		if rel > 0.45 {
			t.Fatalf("%+v: rel RMSE %.4f", o, rel)
		}
	}
}
