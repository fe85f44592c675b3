package quant

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/pocketgguf/pocketgguf/format"
)

// On data made of 16 tight clusters, k-means with K=16 must find them
// (error near the cluster noise) and beat a codebook of random samples.
func TestKMeansFindsClusters(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	const v, k, n = 4, 16, 8000
	centers := make([]float32, k*v)
	for i := range centers {
		centers[i] = float32(rng.NormFloat64() * 3)
	}
	s := Samples{V: v, X: make([]float32, n*v)}
	for i := 0; i < n; i++ {
		c := rng.IntN(k)
		for d := 0; d < v; d++ {
			s.X[i*v+d] = centers[c*v+d] + float32(rng.NormFloat64()*0.05)
		}
	}
	tb, err := Train(s, Options{Method: MethodKMeans, V: v, K: k, Seed: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mse := func(lut []float32) float64 {
		var e float64
		for i := 0; i < n; i++ {
			_, d := bruteNearest(lut, k, v, s.X[i*v:i*v+v], ones(v))
			e += float64(d)
		}
		return e / float64(n*v)
	}
	got := mse(tb.BuildLUT(k))
	random := make([]float32, k*v)
	for c := 0; c < k; c++ {
		copy(random[c*v:], s.X[rng.IntN(n)*v:][:v])
	}
	rnd := mse(random)
	t.Logf("k-means MSE %.5f, random codebook %.5f, noise 0.0025", got, rnd)
	if got > 0.0035 {
		t.Errorf("k-means did not converge to the clusters: MSE %.5f, noise variance 0.0025", got)
	}
	if got >= rnd {
		t.Errorf("k-means MSE %.5f is not below a random codebook's %.5f", got, rnd)
	}
}

// Train then Assign on Gaussian weights at 2 bits/weight (V=4, K=256) must
// reconstruct, through format.BuildLUT and the FORMAT.md rule, within the
// error a 4-D vector quantiser reaches (scalar Lloyd-Max at 2 bits: 0.343).
func TestAssignReconstructsGaussian(t *testing.T) {
	m := gaussMatrix("blk.0.ffn_up.weight", 256, 512, 5)
	for _, method := range []string{MethodKMeans, MethodPocketLLM} {
		opt := Options{Method: method, V: 4, K: 256, RowScale: true, Seed: 9, Epochs: 0}
		tb := sampleTrain(t, m, nil, opt, 0)
		lut := tb.BuildLUT(256)
		a, err := Assign(tb, lut, m, nil, opt, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := relRMSE(m.Data, reconstruct(lut, 4, m, a))
		t.Logf("%s: rel RMSE %.4f (Assign says %.4f)", method, got, a.RelRMSE)
		if math.Abs(got-a.RelRMSE) > 1e-6 {
			t.Errorf("%s: Assign reports rel RMSE %.6f, reconstruction gives %.6f", method, a.RelRMSE, got)
		}
		if got > 0.335 {
			t.Errorf("%s: rel RMSE %.4f above 0.335", method, got)
		}
		for r, sc := range a.Scales {
			if f := roundTripF16(sc); f != sc {
				t.Fatalf("scale %d = %v is not an f16 value", r, sc)
			}
		}
	}
}

func roundTripF16(x float32) float32 {
	xs := []float32{x}
	_ = roundF16(xs)
	return xs[0]
}

// Same seed, Threads=1 and Threads=4: identical table and indices, bit for bit.
func TestDeterministicAcrossThreads(t *testing.T) {
	m := gaussMatrix("blk.1.attn_q.weight", 64, 256, 11)
	imp := make([]float32, m.Cols)
	for i := range imp {
		imp[i] = float32(1 + i%7)
	}
	for _, method := range []string{MethodKMeans, MethodPocketLLM} {
		var out [][]byte
		for _, th := range []int{1, 4} {
			opt := Options{Method: method, V: 4, K: 64, RowScale: true, Seed: 3, Threads: th, Epochs: 8}
			tb, a := fitTable(t, m, imp, opt, 2000)
			var b bytes.Buffer
			binary.Write(&b, binary.LittleEndian, tb.Codebook)
			binary.Write(&b, binary.LittleEndian, tb.Decoder)
			binary.Write(&b, binary.LittleEndian, a.Indices)
			binary.Write(&b, binary.LittleEndian, a.Scales)
			binary.Write(&b, binary.LittleEndian, a.RelRMSE)
			out = append(out, b.Bytes())
		}
		if !bytes.Equal(out[0], out[1]) {
			t.Errorf("%s: Threads=1 and Threads=4 differ", method)
		}
	}
}

// Importance weighting must lower the error on the important columns.
func TestImportanceLowersWeightedError(t *testing.T) {
	m := gaussMatrix("blk.2.ffn_down.weight", 128, 256, 13)
	imp := make([]float32, m.Cols)
	for i := range imp {
		imp[i] = 0.05
		if i%8 < 2 { // first two elements of every sub-vector of 8 matter
			imp[i] = 20
		}
	}
	colErr := func(importance []float32) float64 {
		opt := Options{Method: MethodKMeans, V: 8, K: 256, RowScale: true, Seed: 1}
		tb := sampleTrain(t, m, importance, opt, 0)
		lut := tb.BuildLUT(tb.K)
		a, err := Assign(tb, lut, m, importance, opt, nil)
		if err != nil {
			t.Fatal(err)
		}
		rec := reconstruct(lut, 8, m, a)
		var e, r float64
		for i, w := range m.Data {
			if imp[i%m.Cols] > 1 {
				d := float64(w - rec[i])
				e += d * d
				r += float64(w) * float64(w)
			}
		}
		return math.Sqrt(e / r)
	}
	plain, weighted := colErr(nil), colErr(imp)
	t.Logf("rel RMSE on important columns: uniform %.4f, importance-weighted %.4f", plain, weighted)
	if weighted > 0.7*plain {
		t.Errorf("importance weighting did not help the important columns: %.4f vs %.4f uniform", weighted, plain)
	}
}

func TestBadInputErrors(t *testing.T) {
	good := gaussMatrix("blk.0.attn_k.weight", 4, 16, 1)
	opt := Options{Method: MethodKMeans, V: 8, K: 4}
	nan := gaussMatrix("blk.3.attn_v.weight", 4, 16, 1)
	nan.Data[2*16+5] = float32(math.NaN())
	tb := &format.Table{V: 8, K: 4, Latent: 8, Codebook: make([]float32, 32), Decoder: format.IdentityDecoder(8)}
	cases := []struct {
		name string
		err  error
		want []string
	}{
		{"cols%V", func() error {
			_, err := Sample(Matrix{Name: "blk.9.ffn_gate.weight", Rows: 2, Cols: 12, Data: make([]float32, 24)}, nil, opt, 0)
			return err
		}(), []string{"blk.9.ffn_gate.weight", "12", "8"}},
		{"nan", func() error { _, err := Sample(nan, nil, opt, 0); return err }(), []string{"blk.3.attn_v.weight", "[2, 5]", "NaN"}},
		{"nan assign", func() error { _, err := Assign(tb, nil, nan, nil, opt, nil); return err }(), []string{"blk.3.attn_v.weight", "[2, 5]"}},
		{"data length", func() error {
			_, err := Assign(tb, nil, Matrix{Name: "x.weight", Rows: 2, Cols: 16, Data: make([]float32, 31)}, nil, opt, nil)
			return err
		}(), []string{"x.weight", "31"}},
		{"K", func() error { _, err := Sample(good, nil, Options{V: 8, K: 1<<16 + 1}, 0); return err }(), []string{"blk.0.attn_k.weight", "65537"}},
		{"V", func() error {
			_, err := Train(Samples{V: 3, X: make([]float32, 9)}, Options{V: 3, K: 2}, nil)
			return err
		}(), []string{"sub-vector length 3"}},
		{"importance length", func() error { _, err := Sample(good, make([]float32, 3), opt, 0); return err }(), []string{"blk.0.attn_k.weight", "importance"}},
		{"method", func() error {
			_, err := Train(Samples{V: 8, X: make([]float32, 8)}, Options{Method: "gptq", V: 8, K: 2}, nil)
			return err
		}(), []string{"gptq"}},
		{"table V", func() error { _, err := Assign(tb, nil, good, nil, Options{V: 4, K: 4}, nil); return err }(), []string{"blk.0.attn_k.weight", "V=8"}},
	}
	for _, c := range cases {
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(c.err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", c.name, c.err, w)
			}
		}
	}
}
