package quant

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/pocketgguf/pocketgguf/format"
)

// additiveFit trains an additive table of type ty on m (row scales on) and
// assigns m, returning the assignment, the table and the tensor's bits per
// weight counting codes, f16 row scales and the f16 codebooks.
func additiveFit(tb testing.TB, m Matrix, ty format.PQType, opt Options) (*Assignment, *format.Table, float64) {
	tb.Helper()
	opt.V, opt.K, opt.Codebooks, opt.RowScale = ty.V, format.AdditiveK, ty.Codebooks, true
	t, a := fitTable(tb, m, nil, opt, 0)
	bits := float64(m.Rows*ty.RowBytes(m.Cols))*8 + float64(m.Rows)*16 + float64(len(t.Codebook))*16
	return a, t, bits / float64(m.Rows*m.Cols)
}

// The fast 2-bit type against llama.cpp's: on a Gaussian 1024×4096 weight
// pqa_4x8 must stay at or under 0.33 relative RMS error at ≤ 2.06 bits per
// weight, tables and scales counted (IQ2_XXS: 0.350 at 2.06; Q2_K 0.296 at
// 2.63). POCKET_PQA_ROWS=4096 runs the full 4096×4096 of docs/bench/converter.md.
func TestAdditiveGaussianQuality(t *testing.T) {
	rows := 1024
	if testing.Short() {
		rows = 256
	}
	if r := os.Getenv("POCKET_PQA_ROWS"); r != "" {
		fmt.Sscan(r, &rows)
	}
	m := gaussMatrix("gauss", rows, 4096, 7)
	ty, _ := format.ParsePQType("pqa_4x8")
	a, _, bpw := additiveFit(t, m, ty, Options{Seed: 1})
	t.Logf("pqa_4x8 %d×4096 Gaussian: rel RMS %.4f at %.4f bits/weight", rows, a.RelRMSE, bpw)
	if a.RelRMSE > 0.33 || bpw > 2.06 {
		t.Fatalf("pqa_4x8: rel RMS %.4f at %.4f bits/weight, want <= 0.33 at <= 2.06", a.RelRMSE, bpw)
	}
}

// TestAdditiveReport prints the figures of docs/bench/converter.md (every
// additive type, Gaussian and Student-t(4)); POCKET_PQA_REPORT=1 runs it.
func TestAdditiveReport(t *testing.T) {
	if os.Getenv("POCKET_PQA_REPORT") == "" {
		t.Skip("POCKET_PQA_REPORT=1 prints the additive types' error table")
	}
	rows := 1024
	if r := os.Getenv("POCKET_PQA_ROWS"); r != "" {
		fmt.Sscan(r, &rows)
	}
	var epochs, vecs int
	fmt.Sscan(os.Getenv("POCKET_PQA_EPOCHS"), &epochs)
	fmt.Sscan(os.Getenv("POCKET_PQA_VECS"), &vecs)
	types := []string{"pqa_4x8", "pqa_4x12", "pqa_8x8", "pqa_8x12", "pqa_8x16"}
	if s := os.Getenv("POCKET_PQA_TYPES"); s != "" {
		types = nil
		for _, f := range splitComma(s) {
			types = append(types, f)
		}
	}
	for _, data := range []struct {
		name string
		m    Matrix
	}{{"gauss", gaussMatrix("gauss", rows, 4096, 7)}, {"student4", studentMatrix("t4", rows, 4096, 4, 7)}} {
		for _, name := range types {
			ty, _ := format.ParsePQType(name)
			start := nowSeconds()
			a, _, bpw := additiveFit(t, data.m, ty, Options{Seed: 1, Epochs: epochs, TrainVectors: vecs})
			t.Logf("%-8s %-8s %d×4096: rel RMS %.4f at %.4f bpw (%.1fs)", data.name, name, rows, a.RelRMSE, bpw, nowSeconds()-start)
		}
	}
}

// Same seed, same bytes, whatever the thread count: training (with
// importance weights), plain assignment and GPTQ feedback.
func TestAdditiveDeterministicAcrossThreads(t *testing.T) {
	m := gaussMatrix("blk.1.attn_q.weight", 70, 64, 11)
	imp := make([]float32, m.Cols)
	for i := range imp {
		imp[i] = float32(1 + i%7)
	}
	_, h := correlatedInputs(512, 64, 2, 1)
	var out [][]byte
	for _, th := range []int{1, 4} {
		opt := Options{V: 4, K: 16, Codebooks: 3, RowScale: true, Seed: 3, Threads: th, Epochs: 6}
		tb, a := fitTable(t, m, imp, opt, 3000)
		g, err := AssignGPTQ(tb, nil, m, h, opt, nil)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		for _, x := range []any{tb.Codebook, a.Indices, a.Scales, a.RelRMSE, g.Indices, g.Scales} {
			binary.Write(&b, binary.LittleEndian, x)
		}
		out = append(out, b.Bytes())
	}
	if !bytes.Equal(out[0], out[1]) {
		t.Fatal("Threads=1 and Threads=4 differ")
	}
}

// Assign's indices are product indices whose rebuilt weights (product LUT ×
// row scale) give the reported error; joint encoding and the refit beat the
// residual start; K < 16 only ever writes codes < K.
func TestAdditiveAssignRebuilds(t *testing.T) {
	m := studentMatrix("w", 64, 128, 4, 5)
	for _, k := range []int{16, 5} {
		opt := Options{V: 4, K: k, Codebooks: 2, RowScale: true, Seed: 1}
		s, _ := Sample(m, nil, opt, 0)
		tb, err := Train(s, opt, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tb.Codebooks != 2 || len(tb.Codebook) != 2*k*4 {
			t.Fatalf("K=%d: table %d codebooks, %d values", k, tb.Codebooks, len(tb.Codebook))
		}
		a, err := Assign(tb, nil, m, nil, opt, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range a.Indices {
			if int(x&15) >= k || int(x>>4) >= k {
				t.Fatalf("K=%d: index %#x has a code >= K", k, x)
			}
		}
		got := relRMSE(m.Data, reconstruct(tb.ProductLUT(), 4, m, a))
		if math.Abs(got-a.RelRMSE) > 1e-6 {
			t.Fatalf("K=%d: reported rel RMSE %.6f, rebuilt %.6f", k, a.RelRMSE, got)
		}
		init := opt
		init.Epochs = 1 // residual k-means only
		ti, _ := Train(s, init, nil)
		ai, _ := Assign(ti, nil, m, nil, init, nil)
		t.Logf("K=%d: residual start %.4f, trained %.4f", k, ai.RelRMSE, a.RelRMSE)
		if a.RelRMSE >= ai.RelRMSE {
			t.Fatalf("K=%d: trained %.4f not below the residual start %.4f", k, a.RelRMSE, ai.RelRMSE)
		}
	}
}

// GPTQ feedback through the product LUT lowers the output error of an
// additive table as it does for a plain one.
func TestAdditiveGPTQLowersOutputError(t *testing.T) {
	const rows, cols = 96, 64
	m := gaussMatrix("blk.0.attn_q.weight", rows, cols, 11)
	_, h := correlatedInputs(2048, cols, 1, 1)
	xTest, _ := correlatedInputs(512, cols, 1, 2)
	opt := Options{V: 4, K: 16, Codebooks: 2, RowScale: true, Seed: 3}
	tb := trainTable(t, m, opt)
	lut := tb.ProductLUT()
	_, _, ep, eg := plainAndGPTQ(t, tb, lut, m, h, xTest, opt)
	t.Logf("output rel error: importance only %.4f, GPTQ %.4f", ep, eg)
	if eg > 0.9*ep {
		t.Fatalf("GPTQ output error %.4f not below 0.9 × %.4f", eg, ep)
	}
}

func TestAdditiveBadOptions(t *testing.T) {
	m := gaussMatrix("blk.3.ffn_up.weight", 8, 16, 1)
	for _, c := range []struct {
		opt  Options
		want string
	}{
		{Options{V: 4, K: 32, Codebooks: 2}, "at most 16 entries per codebook"},
		{Options{V: 4, K: 16, Codebooks: 2, Method: MethodPocketLLM}, "additive tables are trained by kmeans"},
		{Options{V: 4, K: 16, Codebooks: 7}, "7 codebooks"},
	} {
		_, err := Sample(m, nil, c.opt, 0)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), m.Name) {
			t.Fatalf("%+v: error %v, want %q naming the tensor", c.opt, err, c.want)
		}
	}
	plain := trainTable(t, m, Options{V: 4, K: 16, Seed: 1})
	if _, err := Assign(plain, nil, m, nil, Options{Codebooks: 2}, nil); err == nil || !strings.Contains(err.Error(), "1 codebooks, options say 2") {
		t.Fatalf("plain table assigned as additive: %v", err)
	}
}

// BenchmarkAdditive trains and assigns pqa_4x8 on a Gaussian 1024×4096
// weight and reports its error and weights/s.
func BenchmarkAdditive(b *testing.B) {
	m := gaussMatrix("bench", 1024, 4096, 7)
	for _, name := range []string{"pqa_4x8", "pqa_4x12"} {
		ty, _ := format.ParsePQType(name)
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				a, _, bpw := additiveFit(b, m, ty, Options{Seed: 1})
				b.ReportMetric(a.RelRMSE, "relRMSE")
				b.ReportMetric(bpw, "bpw")
			}
			b.ReportMetric(float64(len(m.Data))*float64(b.N)/b.Elapsed().Seconds(), "weights/s")
		})
	}
}
