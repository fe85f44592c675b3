package quant

import (
	"math"
	"strings"
	"testing"
)

// Documents the measured relation: the pocketllm table is never worse than
// its k-means start on the training samples (it keeps the best), so on the
// whole matrix it must be within noise of k-means; the decoder it stores
// must rebuild through format.BuildLUT.
func TestPocketLLMMatchesKMeans(t *testing.T) {
	m := studentMatrix("blk.4.attn_output.weight", 192, 512, 4, 21)
	rel := map[string]float64{}
	for _, method := range []string{MethodKMeans, MethodPocketLLM} {
		opt := Options{Method: method, V: 4, K: 128, RowScale: true, Seed: 2, Epochs: 0}
		tb := sampleTrain(t, m, nil, opt, 8192)
		if method == MethodPocketLLM && (tb.Blocks != 3 || tb.Hidden != 16) {
			t.Errorf("pocketllm table has %d blocks of width %d, want 3 of 16", tb.Blocks, tb.Hidden)
		}
		a, err := Assign(tb, nil, m, nil, opt, nil)
		if err != nil {
			t.Fatal(err)
		}
		rel[method] = a.RelRMSE
	}
	t.Logf("Student-t(4) 192x512, V=4 K=128: kmeans %.4f, pocketllm %.4f", rel[MethodKMeans], rel[MethodPocketLLM])
	if rel[MethodPocketLLM] > rel[MethodKMeans]*1.01 {
		t.Errorf("pocketllm %.4f worse than kmeans %.4f by more than 1%%", rel[MethodPocketLLM], rel[MethodKMeans])
	}
}

func TestPocketLLMRejectsOtherLatent(t *testing.T) {
	s := Samples{V: 4, X: make([]float32, 4*64)}
	_, err := Train(s, Options{V: 4, K: 8, Latent: 2}, nil)
	if err == nil || !strings.Contains(err.Error(), "latent") {
		t.Fatalf("latent 2 with V=4: err = %v, want an error about the latent dimension", err)
	}
}

func TestSampleScalesAndAppend(t *testing.T) {
	m := gaussMatrix("blk.0.ffn_gate.weight", 8, 16, 4)
	copy(m.Data[3*16:4*16], make([]float32, 16)) // a zero row
	opt := Options{Method: MethodKMeans, V: 4, K: 4, RowScale: true}
	s, err := Sample(m, nil, opt, 1000) // more than there are: all 32, in row order
	if err != nil {
		t.Fatal(err)
	}
	sc, err := RowScales(m)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 32 || s.W != nil {
		t.Fatalf("got %d samples (W %v), want all 32 with nil weights", s.Len(), s.W != nil)
	}
	for i, x := range s.X {
		r := i / 16
		want := float32(0)
		if sc[r] != 0 {
			want = m.Data[i] * (1 / sc[r])
		}
		if x != want {
			t.Fatalf("sample value %d = %v, want %v (row scale %v)", i, x, want, sc[r])
		}
	}
	if sc[3] != 0 {
		t.Errorf("zero row has scale %v", sc[3])
	}
	imp := make([]float32, 16)
	for i := range imp {
		imp[i] = float32(i + 1)
	}
	s2, err := Sample(m, imp, opt, 5)
	if err != nil {
		t.Fatal(err)
	}
	s.Append(s2)
	if s.Len() != 37 || len(s.W) != len(s.X) || s.W[0] != 1 || s.W[32*4] == 1 {
		t.Fatalf("Append: %d samples, %d weights, W[0]=%v", s.Len(), len(s.W), s.W[0])
	}
	// A zero row reconstructs exactly, and progress ends at its total.
	tb, err := Train(s, opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	var last, total int64
	a, err := Assign(tb, nil, m, nil, opt, func(d, tot int64) {
		if d < last {
			t.Errorf("progress went back from %d to %d", last, d)
		}
		last, total = d, tot
	})
	if err != nil {
		t.Fatal(err)
	}
	if last != total || total != 8 {
		t.Errorf("progress ended at %d/%d, want 8/8", last, total)
	}
	rec := reconstruct(tb.BuildLUT(tb.K), 4, m, a)
	for _, x := range rec[3*16 : 4*16] {
		if x != 0 {
			t.Fatalf("zero row reconstructs to %v", x)
		}
	}
	if math.IsNaN(a.RelRMSE) {
		t.Fatal("rel RMSE is NaN")
	}
}

// Fewer samples than codebook entries still trains (repeated entries).
func TestMoreEntriesThanSamples(t *testing.T) {
	m := gaussMatrix("tiny", 2, 8, 1)
	for _, method := range []string{MethodKMeans, MethodPocketLLM} {
		opt := Options{Method: method, V: 4, K: 256}
		_, a := fitTable(t, m, nil, opt, 0)
		if a.RelRMSE > 1e-3 {
			t.Errorf("%s: 4 sub-vectors, 256 entries: rel RMSE %v, want ~0 (f16 codebook)", method, a.RelRMSE)
		}
	}
}

// Train's progress must only move forward and end at its total for both
// methods, also when k-means converges before its iteration cap.
func TestTrainProgressEndsFull(t *testing.T) {
	m := gaussMatrix("blk.0.attn_q.weight", 64, 64, 8)
	for _, method := range []string{MethodKMeans, MethodPocketLLM} {
		opt := Options{Method: method, V: 4, K: 16, Epochs: 6}
		s, err := Sample(m, nil, opt, 0)
		if err != nil {
			t.Fatal(err)
		}
		var last, total int64
		if _, err := Train(s, opt, func(d, tot int64) {
			if d < last || d > tot {
				t.Errorf("%s: progress %d/%d after %d", method, d, tot, last)
			}
			last, total = d, tot
		}); err != nil {
			t.Fatal(err)
		}
		if last != total || total == 0 {
			t.Errorf("%s: progress ended at %d/%d", method, last, total)
		}
	}
}

// Assign takes V and K from the table when the options leave them zero.
func TestAssignOptionsFromTable(t *testing.T) {
	m := gaussMatrix("blk.0.attn_v.weight", 16, 64, 3)
	opt := Options{Method: MethodKMeans, V: 8, K: 32}
	tb, a1 := fitTable(t, m, nil, opt, 0)
	a2, err := Assign(tb, nil, m, nil, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a1.RelRMSE != a2.RelRMSE || len(a1.Indices) != len(a2.Indices) {
		t.Fatalf("zero options: rel RMSE %v vs %v", a2.RelRMSE, a1.RelRMSE)
	}
}
