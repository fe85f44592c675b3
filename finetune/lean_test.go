package finetune

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pocketgguf/pocketgguf/converter"
)

// weightSizes lists what NewWeights allocates, tied or not.
func TestWeightSizesMatchNewWeights(t *testing.T) {
	c := Config{Dim: 64, Layers: 3, Heads: 8, KVHeads: 2, FF: 172, Vocab: 320, HeadDim: 8}
	for _, tied := range []bool{false, true} {
		named, sizes := NewWeights(c, tied).Named(), weightSizes(c, tied)
		if tied {
			delete(named, "output.weight")
		}
		if len(named) != len(sizes) {
			t.Errorf("tied %v: %d sizes for %d tensors", tied, len(sizes), len(named))
		}
		for n, x := range named {
			if sizes[n] != len(x) {
				t.Errorf("tied %v: %s: size %d, NewWeights %d", tied, n, sizes[n], len(x))
			}
		}
	}
}

// The lean model (the ggml engine's) holds no f32 weights, and what it
// holds (indices, scales, norms, the fixed tensors it reads when the trainer
// is set up) equals the dense model's.
func TestLeanModelMatchesDense(t *testing.T) {
	dir := t.TempDir()
	orig, _ := tinyPQ(t, dir)
	for i, co := range []converter.Options{{BPW: 2.5}, {BPW: 2.5, Prefer: converter.PreferSpeed}, {BPW: 6, KeepEmbeddings: true}} {
		prefer := fmt.Sprintf("bpw %g, prefer %s, keep embeddings %v", co.BPW, co.Prefer, co.KeepEmbeddings)
		pq := filepath.Join(dir, fmt.Sprintf("lean%d.gguf", i))
		co.Threads = 2
		if _, err := converter.Convert(context.Background(), orig, pq, co); err != nil {
			t.Fatal(err)
		}
		g, c := openPQ(t, pq)
		dense, err := loadPQModel(g, c)
		if err != nil {
			t.Fatal(err)
		}
		lean, err := loadPQModelLean(g, c)
		if err != nil {
			t.Fatal(err)
		}
		if lean.w != nil {
			t.Fatalf("%q: the lean model holds Weights", prefer)
		}
		if len(lean.tensors) != len(dense.tensors) || len(lean.tensors) == 0 || !slices.Equal(lean.norms, dense.norms) {
			t.Fatalf("%q: lean %d tensors, norms %v; dense %d, %v", prefer, len(lean.tensors), lean.norms, len(dense.tensors), dense.norms)
		}
		buf := []float32{}
		for i, lt := range lean.tensors {
			dt := dense.tensors[i]
			if lt.dense != nil || lt.name != dt.name || !slices.Equal(lt.idx, dt.idx) || !slices.Equal(lt.scales, dt.scales) {
				t.Errorf("%q: tensor %s differs from the dense model's (or holds a dense copy)", prefer, lt.name)
			}
			buf = slices.Grow(buf[:0], lt.rows*lt.cols)[:lt.rows*lt.cols]
			lt.rebuild(buf)
			if !slices.Equal(buf, dt.dense) {
				t.Errorf("%q: %s rebuilt differs from the dense model's", prefer, lt.name)
			}
			// Dropped indices are read from the file again, unchanged.
			idx := lt.idx
			lt.idx = nil
			again, err := lean.indices(lt)
			if err != nil || !slices.Equal(again, idx) {
				t.Errorf("%q: %s: indices read again differ (%v)", prefer, lt.name, err)
			}
			if lt.packed() != nil {
				t.Errorf("%q: %s: dropped indices are packed", prefer, lt.name)
			}
			lt.idx = idx
		}
		named := dense.w.Named()
		for _, n := range dense.norms {
			if !slices.Equal(lean.normW[n], named[n]) {
				t.Errorf("%q: norm %s differs", prefer, n)
			}
		}
		fixed := 0
		for n := range lean.sizes {
			if slices.ContainsFunc(dense.tensors, func(t *pqTensor) bool { return t.name == n }) || slices.Contains(dense.norms, n) {
				continue
			}
			fixed++
			x, err := lean.fixed(n)
			if err != nil || !slices.Equal(x, named[n]) {
				t.Errorf("%q: fixed tensor %s read from the file differs (%v)", prefer, n, err)
			}
		}
		t.Logf("%q: %d PQ tensors, %d norms, %d fixed tensors", prefer, len(lean.tensors), len(lean.norms), fixed)
		if co.KeepEmbeddings && fixed == 0 {
			t.Errorf("%q: no fixed tensor", prefer)
		}
	}
}
