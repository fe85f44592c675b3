package finetune

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/pocketgguf/pocketgguf/gguf"
)

// An additive PocketGGUF tunes like a plain one: the held-out KL falls,
// indices move, the layout and size stay, and 1 and 3 threads agree.
func TestRunTunesAdditiveTables(t *testing.T) {
	dir := t.TempDir()
	orig, pq := tinyPQPrefer(t, dir, "speed")
	if n := countAdditive(t, pq); n == 0 {
		t.Fatal("the speed conversion has no additive tensor")
	}
	seqs := randomSeqs(10, 24, 320)
	o := Options{Epochs: 8, LR: 1e-2, Batch: 2, Threads: 1, Seed: 1, CodeLR: 3e-2}
	out1, out2 := filepath.Join(dir, "a.gguf"), filepath.Join(dir, "b.gguf")
	rep, err := Run(context.Background(), orig, pq, out1, seqs, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("additive: held-out KL %.4f -> %.4f (epoch %d)", rep.StartKL, rep.BestKL, rep.BestEpoch)
	if !(rep.BestKL < 0.92*rep.StartKL) {
		t.Errorf("held-out KL %.4f -> %.4f: want at least 8%% lower", rep.StartKL, rep.BestKL)
	}
	o.Threads = 3
	if _, err := Run(context.Background(), orig, pq, out2, seqs, o); err != nil {
		t.Fatal(err)
	}
	if string(read(t, out1)) != string(read(t, out2)) {
		t.Error("1 and 3 threads wrote different bytes")
	}
	if len(read(t, pq)) != len(read(t, out1)) {
		t.Error("size changed")
	}
	if _, matrices := compareTensors(t, pq, out1); matrices == 0 {
		t.Error("no index moved")
	}
}

func countAdditive(t *testing.T, path string) int {
	g, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	n := 0
	for _, ti := range g.Tensors {
		if ti.Type >= 107 && ti.Type <= 111 {
			n++
		}
	}
	return n
}

// pullGradients through an additive table: for L = Σ G·W (any dense
// gradient G), the codebook gradient must match finite differences, every
// entry of a sum receiving the sum's gradient.
func TestAdditiveCodebookGradient(t *testing.T) {
	dir := t.TempDir()
	_, pq := tinyPQPrefer(t, dir, "speed")
	g, c := openPQ(t, pq)
	m, err := loadPQModel(g, c)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	gw := NewWeights(c, m.w.Tied())
	for _, s := range gw.Named() {
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
	}
	loss := func() float64 {
		m.refreshLUTs()
		m.materialize()
		var l float64
		named, grads := m.w.Named(), gw.Named()
		for _, pt := range m.tensors {
			for i, x := range named[pt.name] {
				l += float64(x) * float64(grads[pt.name][i])
			}
		}
		return l
	}
	loss()
	m.pullGradients(gw)
	checked := 0
	for _, tb := range m.tables {
		if !tb.tb.Additive() || !tb.train {
			continue
		}
		for k := 0; k < 12; k++ {
			i := rng.IntN(len(tb.tb.Codebook))
			old := tb.tb.Codebook[i]
			const h = 1e-2
			tb.tb.Codebook[i] = old + h
			up := loss()
			tb.tb.Codebook[i] = old - h
			down := loss()
			tb.tb.Codebook[i] = old
			num := (up - down) / (2 * h)
			an := float64(tb.gCode[i])
			if math.Abs(num-an) > 1e-2+1e-3*math.Abs(num) {
				t.Errorf("table %s codebook[%d]: pulled %.6g, finite difference %.6g", tb.name, i, an, num)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no additive table checked")
	}
}
