package bridge

import (
	"math"
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
