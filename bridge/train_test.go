package bridge

import (
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
)

// A Trainer refuses a PQ slot whose table does not fit, and a Run before
// Alloc or with mismatched lengths; a well-formed one-layer model runs, and
// a uniform student against a uniform teacher has zero KL and zero gradients.
func TestTrainerRunsAndRefuses(t *testing.T) {
	c := TrainConfig{Dim: 8, Layers: 1, Heads: 2, KVHeads: 1, FF: 16, Vocab: 10, HeadDim: 4, RopeDims: 4, RopeBase: 10000, Eps: 1e-5, Threads: 2}
	tr := NewTrainer(c)
	defer tr.Close()
	tb := tr.Table(4, 3, true)
	if _, err := tr.PQ("blk.0.attn_q.weight", 8, 8, tb, 2, true, false); err == nil || !strings.Contains(err.Error(), "sub-vector") {
		t.Errorf("v mismatch: %v", err)
	}
	te := &Teacher{K: 10, Idx: make([]int32, 30), LogP: make([]float32, 30), Rest: make([]float32, 3)}
	if _, err := tr.Run(3, 1, []int32{1, 2, 3}, te, 1, false); err == nil || !strings.Contains(err.Error(), "before Alloc") {
		t.Errorf("Run before Alloc: %v", err)
	}
	// Every matrix zero (embedding too): logits are 0, the student uniform.
	shapes := map[string][2]int{"token_embd.weight": {8, 10}, "output.weight": {8, 10}, "output_norm.weight": {8, 1},
		"blk.0.attn_norm.weight": {8, 1}, "blk.0.ffn_norm.weight": {8, 1}, "blk.0.attn_k.weight": {8, 4}, "blk.0.attn_v.weight": {8, 4},
		"blk.0.attn_output.weight": {8, 8}, "blk.0.ffn_gate.weight": {8, 16}, "blk.0.ffn_up.weight": {8, 16}, "blk.0.ffn_down.weight": {16, 8}}
	hs := map[string]int{}
	for n, s := range shapes {
		hs[n] = tr.Dense(n, s[0], s[1], strings.HasSuffix(n, "norm.weight"))
	}
	q, err := tr.PQ("blk.0.attn_q.weight", 8, 8, tb, 4, true, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Alloc(); err != nil {
		t.Fatal(err)
	}
	for n, s := range shapes {
		x := make([]float32, s[0]*s[1])
		if s[1] == 1 {
			for i := range x {
				x[i] = 1
			}
		}
		tr.Set(hs[n], x)
	}
	tr.Set(tb, make([]float32, 12))
	tr.Set(q, make([]float32, 8))
	tr.SetCodes(q, make([]int32, 16))
	for i := range te.Idx {
		te.Idx[i], te.LogP[i] = int32(i%10), float32(-math.Log(10))
	}
	for i := range te.Rest {
		te.Rest[i] = float32(math.Inf(-1))
	}
	kl, err := tr.Run(3, 1, []int32{1, 2, 3}, te, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(kl) > 1e-6 {
		t.Errorf("KL of uniform from uniform = %g", kl)
	}
	g := make([]float32, 8)
	if tr.Grad(hs["output_norm.weight"], 0, g) {
		for _, x := range g {
			if x != 0 {
				t.Fatalf("norm gradient %v, want 0", g)
			}
		}
	}
	if _, err := tr.Run(3, 1, []int32{1, 2}, te, 1, false); err == nil {
		t.Error("2 tokens for T = 3 accepted")
	}
	if s, cb := tr.Bytes(); s == 0 || cb == 0 {
		t.Errorf("bytes %d static, %d compute", s, cb)
	}
}

// A forward pass without gradients (fine-tuning's held-out chunks) rebuilds
// each PQ weight just before its product, so the compute buffer holds about
// one dense weight, not all of them: on a 7B model they are 25 GiB. The
// loss is the same as the forward half of a pass with gradients.
func TestForwardOnlyRebuildsOneWeightAtATime(t *testing.T) {
	const dim, ff, layers, vocab, T = 128, 256, 4, 16, 4
	c := TrainConfig{Dim: dim, Layers: layers, Heads: 4, KVHeads: 4, FF: ff, Vocab: vocab, HeadDim: 32, RopeDims: 32, RopeBase: 10000, Eps: 1e-5, Threads: 2}
	run := func(grad bool) (float64, int64, int64) {
		tr := NewTrainer(c)
		defer tr.Close()
		rng := uint32(1)
		rnd := func() float32 { rng = rng*1664525 + 1013904223; return float32(rng>>8)/float32(1<<24) - 0.5 }
		fill := func(n int) []float32 {
			x := make([]float32, n)
			for i := range x {
				x[i] = rnd()
			}
			return x
		}
		tb := tr.Table(4, 16, true)
		dense := map[string][2]int{"token_embd.weight": {dim, vocab}, "output.weight": {dim, vocab}, "output_norm.weight": {dim, 1}}
		pq := map[string][2]int{} // name -> rows, cols
		for l := 0; l < layers; l++ {
			b := "blk." + string(rune('0'+l)) + "."
			dense[b+"attn_norm.weight"], dense[b+"ffn_norm.weight"] = [2]int{dim, 1}, [2]int{dim, 1}
			for _, n := range []string{"attn_q", "attn_k", "attn_v", "attn_output"} {
				pq[b+n+".weight"] = [2]int{dim, dim}
			}
			pq[b+"ffn_gate.weight"], pq[b+"ffn_up.weight"], pq[b+"ffn_down.weight"] = [2]int{ff, dim}, [2]int{ff, dim}, [2]int{dim, ff}
		}
		hs, rebuiltBytes := map[string]int{}, int64(0)
		for n, s := range dense {
			hs[n] = tr.Dense(n, s[0], s[1], true)
		}
		for n, s := range pq {
			h, err := tr.PQ(n, s[0], s[1], tb, 4, true, false)
			if err != nil {
				t.Fatal(err)
			}
			hs[n] = h
			rebuiltBytes += int64(s[0] * s[1] * 4)
		}
		if err := tr.Alloc(); err != nil {
			t.Fatal(err)
		}
		tr.Set(tb, fill(64))
		for _, n := range slices.Sorted(maps.Keys(dense)) { // map order is random; the values must not be
			tr.Set(hs[n], fill(dense[n][0]*dense[n][1]))
		}
		for _, n := range slices.Sorted(maps.Keys(pq)) {
			s := pq[n]
			tr.Set(hs[n], fill(s[0]))
			codes := make([]int32, s[0]*s[1]/4)
			for i := range codes {
				codes[i] = int32(i*7) % 16
			}
			tr.SetCodes(hs[n], codes)
		}
		te := &Teacher{K: vocab, Idx: make([]int32, T*vocab), LogP: make([]float32, T*vocab), Rest: make([]float32, T)}
		for i := range te.Idx {
			te.Idx[i], te.LogP[i] = int32(i%vocab), float32(-math.Log(vocab))
		}
		for i := range te.Rest {
			te.Rest[i] = float32(math.Inf(-1))
		}
		kl, err := tr.Run(T, 1, []int32{1, 2, 3, 4}, te, 1, grad)
		if err != nil {
			t.Fatal(err)
		}
		_, cb := tr.Bytes()
		return kl, cb, rebuiltBytes
	}
	klF, cbF, rebuilt := run(false)
	klG, _, _ := run(true)
	if klF != klG {
		t.Errorf("forward-only KL %v, with gradients %v", klF, klG)
	}
	t.Logf("forward-only compute buffer: %d bytes for %d bytes of rebuilt weights", cbF, rebuilt)
	// The largest weight is 128 KiB of the 2.5 MiB; its rebuild's steps and the
	// activations add a few times that.
	if cbF > rebuilt/4 {
		t.Errorf("forward-only compute buffer %d bytes for %d bytes of rebuilt weights: they are alive at once", cbF, rebuilt)
	}
}
