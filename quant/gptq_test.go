package quant

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pocketgguf/pocketgguf/format"
)

// correlatedInputs returns n input rows of width cols whose columns are
// correlated and of unequal power, as activations entering a weight are, and
// their mean x·xᵀ.
func correlatedInputs(n, cols int, mixSeed, drawSeed uint64) ([]float64, []float64) {
	rng := rand.New(rand.NewPCG(mixSeed, 3))
	mix := make([]float64, cols*cols) // x = z·mix: a random mixing of iid z
	for i := range mix {
		mix[i] = rng.NormFloat64() / math.Sqrt(float64(cols))
	}
	for c := 0; c < cols; c++ {
		mix[c*cols+c] += 1 + 3*float64(c%7)/7
	}
	// A few strong shared directions, as in transformer activations.
	for k := 0; k < 3; k++ {
		for c := 0; c < cols; c++ {
			mix[k*cols+c] += 2 * rng.NormFloat64()
		}
	}
	rng = rand.New(rand.NewPCG(drawSeed, 4))
	x := make([]float64, n*cols)
	z := make([]float64, cols)
	for r := 0; r < n; r++ {
		for i := range z {
			z[i] = rng.NormFloat64()
		}
		for c := 0; c < cols; c++ {
			var s float64
			for i := range z {
				s += z[i] * mix[i*cols+c]
			}
			x[r*cols+c] = s
		}
	}
	h := make([]float64, cols*cols)
	for r := 0; r < n; r++ {
		xr := x[r*cols : (r+1)*cols]
		for i := range xr {
			for j := range xr {
				h[i*cols+j] += xr[i] * xr[j] / float64(n)
			}
		}
	}
	return x, h
}

// outputRelErr is ‖(W−Ŵ)·Xᵀ‖ / ‖W·Xᵀ‖: the error of the layer's output.
func outputRelErr(w, wq []float32, rows, cols int, x []float64) float64 {
	n := len(x) / cols
	var e, ref float64
	for r := 0; r < rows; r++ {
		for k := 0; k < n; k++ {
			var y, yq float64
			for c := 0; c < cols; c++ {
				y += float64(w[r*cols+c]) * x[k*cols+c]
				yq += float64(wq[r*cols+c]) * x[k*cols+c]
			}
			e += (y - yq) * (y - yq)
			ref += y * y
		}
	}
	return math.Sqrt(e / ref)
}

// Error feedback must lower the output error against plain assignment to
// the same table, on held-out inputs drawn like the calibration ones.
func TestAssignGPTQLowersOutputError(t *testing.T) {
	const rows, cols = 96, 64
	m := gaussMatrix("blk.0.attn_q.weight", rows, cols, 11)
	_, h := correlatedInputs(2048, cols, 1, 1)
	xTest, _ := correlatedInputs(512, cols, 1, 2) // same mixing, fresh draws
	for _, rs := range []bool{false, true} {
		opt := Options{V: 4, K: 64, RowScale: rs, Seed: 3}
		tb := trainTable(t, m, opt)
		lut := tb.BuildLUT(64)
		plain, fb, ep, eg := plainAndGPTQ(t, tb, lut, m, h, xTest, opt)
		wq := reconstruct(lut, 4, m, fb)
		if got := relRMSE(m.Data, wq); math.Abs(got-fb.RelRMSE) > 1e-6 {
			t.Errorf("row scale %v: AssignGPTQ reports rel RMSE %.6f, reconstruction gives %.6f", rs, fb.RelRMSE, got)
		}
		t.Logf("row scale %v: output rel error plain %.4f, GPTQ %.4f (weight rel RMSE %.4f → %.4f)", rs, ep, eg, plain.RelRMSE, fb.RelRMSE)
		if eg > 0.9*ep {
			t.Errorf("row scale %v: GPTQ output error %.4f not below 0.9 × plain %.4f", rs, eg, ep)
		}
	}
}

// plainAndGPTQ assigns m with lut twice, importance-weighted by h's diagonal
// (plain) and with GPTQ feedback on h (fb), and gives each one's output
// relative error on the inputs x.
func plainAndGPTQ(t *testing.T, tb *format.Table, lut []float32, m Matrix, h, x []float64, opt Options) (plain, fb *Assignment, ep, eg float64) {
	t.Helper()
	plain, err := Assign(tb, lut, m, diag(h, m.Cols), opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	fb, err = AssignGPTQ(tb, lut, m, h, opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	ep = outputRelErr(m.Data, reconstruct(lut, tb.V, m, plain), m.Rows, m.Cols, x)
	eg = outputRelErr(m.Data, reconstruct(lut, tb.V, m, fb), m.Rows, m.Cols, x)
	return plain, fb, ep, eg
}

func diag(h []float64, n int) []float32 {
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(h[i*n+i])
	}
	return d
}

func TestAssignGPTQDeterministicAcrossThreads(t *testing.T) {
	m := gaussMatrix("w", 70, 32, 4)
	_, h := correlatedInputs(512, 32, 2, 1)
	opt := Options{V: 4, K: 256, RowScale: true, Seed: 1}
	tb := trainTable(t, m, opt)
	var first *Assignment
	for _, th := range []int{1, 3} {
		opt.Threads = th
		a, err := AssignGPTQ(tb, nil, m, h, opt, nil)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = a
			continue
		}
		if !slices.Equal(a.Indices, first.Indices) || !slices.Equal(a.Scales, first.Scales) {
			t.Fatalf("threads %d: assignment differs from threads 1", th)
		}
	}
}

func TestAssignGPTQRejectsBadCovariance(t *testing.T) {
	m := gaussMatrix("blk.1.ffn_down.weight", 8, 16, 1)
	opt := Options{V: 4, K: 16, Seed: 1}
	tb := trainTable(t, m, opt)
	if _, err := AssignGPTQ(tb, nil, m, make([]float64, 15*15), opt, nil); err == nil {
		t.Error("covariance of the wrong size accepted")
	}
	h := make([]float64, 16*16)
	h[5*16+5] = math.NaN()
	if _, err := AssignGPTQ(tb, nil, m, h, opt, nil); err == nil {
		t.Error("NaN covariance accepted")
	}
	// All-zero covariance (inputs never seen) falls back to plain assignment.
	if _, err := AssignGPTQ(tb, nil, m, make([]float64, 16*16), opt, nil); err != nil {
		t.Errorf("zero covariance: %v", err)
	}
}

// gptqFactor's U satisfies Uᵀ·U·(H + damp) = I and is upper triangular.
func TestGPTQFactorInvertsDampedCovariance(t *testing.T) {
	const n = 24
	_, h := correlatedInputs(256, n, 5, 6)
	u, err := gptqFactor(h, n)
	if err != nil {
		t.Fatal(err)
	}
	var mean float64
	for i := 0; i < n; i++ {
		mean += h[i*n+i] / n
	}
	for i := 0; i < n; i++ {
		for j := 0; j < i; j++ {
			if u[i*n+j] != 0 {
				t.Fatalf("U[%d,%d] = %v below the diagonal", i, j, u[i*n+j])
			}
		}
	}
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			var s float64 // (Uᵀ·U·H')[i,j]
			for k := 0; k < n; k++ {
				var utu float64
				for m := 0; m < n; m++ {
					utu += u[m*n+i] * u[m*n+k]
				}
				hk := h[k*n+j]
				if k == j {
					hk += gptqDamp * mean
				}
				s += utu * hk
			}
			want := 0.0
			if i == j {
				want = 1
			}
			if math.Abs(s-want) > 1e-9 {
				t.Fatalf("(UᵀU·H)[%d,%d] = %v, want %v", i, j, s, want)
			}
		}
	}
}

// BenchmarkAssignGPTQ: one 1024×1024 weight with a 1024-wide input
// covariance, pq_4x8 (factorisation included; docs/bench/converter.md).
func BenchmarkAssignGPTQ(b *testing.B) {
	const n = 1024
	m := gaussMatrix("w", n, n, 1)
	_, h := correlatedInputs(2*n, n, 1, 2)
	opt := Options{V: 4, K: 256, RowScale: true, Seed: 1}
	tb := trainTable(b, m, opt)
	lut := tb.BuildLUT(256)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := AssignGPTQ(tb, lut, m, h, opt, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*n)*float64(b.N)/b.Elapsed().Seconds(), "weights/s")
}

// trainTable samples m and trains a table with opt, failing tb on error.
func trainTable(tb testing.TB, m Matrix, opt Options) *format.Table {
	tb.Helper()
	return sampleTrain(tb, m, nil, opt, 0)
}

// sampleTrain samples n sub-vectors of m (0: Sample's default) weighted by
// imp and trains a table with opt, failing tb on error.
func sampleTrain(tb testing.TB, m Matrix, imp []float32, opt Options, n int) *format.Table {
	tb.Helper()
	s, err := Sample(m, imp, opt, n)
	if err != nil {
		tb.Fatal(err)
	}
	t, err := Train(s, opt, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// fitTable is sampleTrain, then Assign of m with the table (its own LUT).
func fitTable(tb testing.TB, m Matrix, imp []float32, opt Options, n int) (*format.Table, *Assignment) {
	tb.Helper()
	t := sampleTrain(tb, m, imp, opt, n)
	a, err := Assign(t, nil, m, imp, opt, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return t, a
}
