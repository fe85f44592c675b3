package finetune

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pocketgguf/pocketgguf/converter"
	"github.com/pocketgguf/pocketgguf/gguf"
	"github.com/pocketgguf/pocketgguf/testmodels"
)

// oracleModel is an original model and its PocketGGUF, loaded as the tuner does.
type oracleModel struct {
	name    string
	c       Config
	teacher *Weights
	pq      *gguf.File
	m       *pqModel
}

func loadOracle(t *testing.T, name, orig string, bpw float64, prefer string) *oracleModel {
	t.Helper()
	pq := filepath.Join(t.TempDir(), "pq.gguf")
	if _, err := converter.Convert(context.Background(), orig, pq, converter.Options{BPW: bpw, Threads: 2, Prefer: converter.Prefer(prefer)}); err != nil {
		t.Fatal(err)
	}
	og, err := gguf.Open(orig)
	if err != nil {
		t.Fatal(err)
	}
	defer og.Close()
	c, tw, err := LoadModel(og)
	if err != nil {
		t.Fatal(err)
	}
	g, err := gguf.Open(pq)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	m, err := loadPQModel(g, c)
	if err != nil {
		t.Fatal(err)
	}
	return &oracleModel{name: name, c: c, teacher: tw, pq: g, m: m}
}

// oracleModels: stories260K (a trained Llama, GQA, vocab 512), the
// generated tiny model (untied head, vocab 320), and with additive, tiny's
// speed conversion (additive tables).
func oracleModels(t *testing.T, bpw float64, additive bool) []*oracleModel {
	var out []*oracleModel
	if p := filepath.Join("..", "..", "shared", "testdata", "models", "stories260K.gguf"); fileExists(p) {
		out = append(out, loadOracle(t, "stories260K", p, bpw, ""))
	} else {
		t.Logf("stories260K absent: generated model only")
	}
	gen := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := testmodels.Generate(gen, testmodels.Presets["tiny"]); err != nil {
		t.Fatal(err)
	}
	out = append(out, loadOracle(t, "tiny", gen, bpw, ""))
	if additive {
		out = append(out, loadOracle(t, "tiny-additive", gen, bpw, "speed"))
	}
	return out
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// relL2 is ‖a−b‖/‖b‖ (0 when both are 0).
func relL2(a, b []float32) float64 {
	var num, den float64
	for i := range a {
		d := float64(a[i] - b[i])
		num += d * d
		den += float64(b[i]) * float64(b[i])
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

// gradTolerance bounds ‖ggml − Go‖/‖Go‖ for every gradient: both are f32
// with different summation orders (SIMD dot products, out_prod, softmax);
// measured: at most 2.5e-6 (stories260K), 1.2e-6 (tiny).
const gradTolerance = 1e-5

// TestGGMLGradientsMatchGo holds the ggml trainer's loss and gradients
// (LUT entries, row scales, norms, and each rebuilt weight's dense gradient
// that the straight-through step uses) to the Go pass's, on a batch of two
// sequences against a top-64 teacher, with indices moved off the converter's
// choice first so that the loaded codes are not the only ones tried.
func TestGGMLGradientsMatchGo(t *testing.T) {
	for _, om := range oracleModels(t, 2.5, true) {
		c, m := om.c, om.m
		seqs := randomSeqs(2, 24, c.Vocab)
		te, _ := goTeacher(c, om.teacher)(seqs, DefaultTopK, 2)
		T := len(seqs[0])
		scale := float32(1.0 / float64(2*T))

		// Go: sum of the two sequences' gradients, then the pull through the lookup.
		g := NewWeights(c, m.w.Tied())
		var goKL float64
		p := newPass(c, T)
		for i, s := range seqs {
			p.forward(m.w, s)
			goKL += klGradTopK(p.logits, te[i], T, c.Vocab, scale)
			p.backward(m.w, g, s)
		}
		m.pullGradients(g)
		goLUT, goCode := map[string][]float32{}, map[string][]float32{}
		for _, tb := range m.tables {
			goLUT[tb.name] = append([]float32(nil), tb.gLUT...)
			goCode[tb.name] = append([]float32(nil), tb.gCode...)
		}
		goScales := map[string][]float32{}
		for _, pt := range m.tensors {
			if pt.scales != nil {
				goScales[pt.name] = append([]float32(nil), pt.gScales...)
			}
		}

		e, err := newGGMLEngine(c, m, 2, true)
		if err != nil {
			t.Fatal(err)
		}
		e.keepDenseGrads()
		kl, err := e.run(seqs, te, scale, true, true)
		e.close()
		if err != nil {
			t.Fatal(err)
		}
		m.codebookGrads()
		// The same bits on one thread: results must not depend on the count.
		e1, err := newGGMLEngine(c, m, 1, true)
		if err != nil {
			t.Fatal(err)
		}
		e1.keepDenseGrads()
		saved := map[string][]float32{}
		for _, tb := range m.tables {
			saved[tb.name] = append([]float32(nil), tb.gLUT...)
		}
		kl1, err := e1.run(seqs, te, scale, true, true)
		e1.close()
		if err != nil {
			t.Fatal(err)
		}
		if kl1 != kl {
			t.Errorf("%s: KL %v on 2 threads, %v on 1", om.name, kl, kl1)
		}
		for _, tb := range m.tables {
			if !slices.Equal(saved[tb.name], tb.gLUT) {
				t.Errorf("%s: LUT %s gradient differs between 2 threads and 1", om.name, tb.name)
			}
		}
		for i := range e.gDense {
			if !slices.Equal(e.gDense[i], e1.gDense[i]) {
				t.Errorf("%s: %s dense gradient differs between 2 threads and 1", om.name, m.tensors[i].name)
			}
		}
		if d := math.Abs(kl-goKL) / goKL; d > 1e-5 {
			t.Errorf("%s: KL ggml %.8g, Go %.8g (rel %.2g)", om.name, kl, goKL, d)
		}
		worst, what := 0.0, ""
		check := func(name string, got, want []float32) {
			d := relL2(got, want)
			if d > worst {
				worst, what = d, name
			}
			if d > gradTolerance {
				t.Errorf("%s: %s: ‖ggml−Go‖/‖Go‖ = %.2g > %.0g", om.name, name, d, gradTolerance)
			}
		}
		n, additive := 0, 0
		for _, tb := range m.tables {
			if tb.train {
				check("LUT "+tb.name, tb.gLUT, goLUT[tb.name])
				check("codebook "+tb.name, tb.gCode, goCode[tb.name])
				n += 2
				if tb.tb.Additive() {
					additive++
				}
			}
		}
		named := g.Named()
		for i, pt := range m.tensors {
			if pt.scales != nil {
				check("scales "+pt.name, pt.gScales, goScales[pt.name])
				n++
			}
			check("dense "+pt.name, e.gDense[i], named[pt.name])
			n++
		}
		for _, nm := range m.norms {
			check("norm "+nm, e.gNorm[nm], named[nm])
			n++
		}
		t.Logf("%s: KL %.6f (Go %.6f), %d gradients (%d additive tables), worst %s at %.2g", om.name, kl, goKL, n, additive, what, worst)
		if n < 10 {
			t.Errorf("%s: only %d gradients compared", om.name, n)
		}
		if strings.HasSuffix(om.name, "additive") && additive == 0 {
			t.Errorf("%s: no additive table", om.name)
		}
	}
}

// An unknown engine is refused by name, and nothing is written.
func TestRunRefusesUnknownEngine(t *testing.T) {
	dir := t.TempDir()
	orig, pq := tinyPQ(t, dir)
	out := filepath.Join(dir, "out.gguf")
	_, err := Run(context.Background(), orig, pq, out, randomSeqs(2, 8, 320), Options{Epochs: 1, LR: 1e-2, Batch: 2, Engine: "cuda"})
	if err == nil || !strings.Contains(err.Error(), `engine "cuda"`) {
		t.Errorf("error %v, want one naming the engine", err)
	}
	if fileExists(out) {
		t.Error("output written")
	}
}
