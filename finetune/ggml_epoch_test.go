package finetune

import (
	"context"
	"math"
	"testing"
)

func sqrt(x float64) float64 { return math.Sqrt(x) }

// epochTolerance bounds ‖ggml − Go‖ / ‖Go − start‖ of every tuned group
// after one epoch: what the engines changed must agree to within this share
// of the change. Adam's first steps move each value by about ±lr whatever
// the gradient's size, so values whose gradient is near zero can step apart;
// measured at most 1.2e-5 (stories260K), 1.6e-6 (tiny, additive).
const epochTolerance = 1e-4

// TestGGMLEpochMatchesGo runs one epoch on each engine (with the whole
// teacher distribution, so both minimise the same loss) from the same
// PocketGGUF, with indices moving, and compares the tuned codebooks, scales,
// norms, the indices and the held-out KL.
func TestGGMLEpochMatchesGo(t *testing.T) {
	for _, om := range oracleModels(t, 2.5, true) {
		c := om.c
		seqs := randomSeqs(10, 32, c.Vocab)
		o := Options{Epochs: 1, LR: 1e-2, Batch: 2, Threads: 2, Seed: 1, CodeLR: 0.1, TopK: c.Vocab}
		stored := func(m *pqModel) storedAs { return readStoredAs(om.pq, m) }
		start, err := loadPQModel(om.pq, c)
		if err != nil {
			t.Fatal(err)
		}
		mg, _ := loadPQModel(om.pq, c)
		mx, _ := loadPQModel(om.pq, c)
		rg, err := tune(context.Background(), c, om.teacher, mg, seqs, o, stored(mg))
		if err != nil {
			t.Fatal(err)
		}
		rx, err := tuneGGML(context.Background(), c, goTeacher(c, om.teacher), mx, seqs, o, stored(mx))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: held-out KL Go %.6f -> %.6f, ggml %.6f -> %.6f", om.name, rg.StartKL, rg.BestKL, rx.StartKL, rx.BestKL)
		if rg.BestEpoch != 1 || rx.BestEpoch != 1 {
			t.Errorf("%s: best epoch Go %d, ggml %d: want the tuned epoch kept by both", om.name, rg.BestEpoch, rx.BestEpoch)
		}
		if d := (rx.BestKL - rg.BestKL) / (rg.StartKL - rg.BestKL); d > 0.02 || d < -0.02 {
			t.Errorf("%s: held-out KL after the epoch differs by %.3g of the gain", om.name, d)
		}
		s0, sg, sx := start.trainable(), mg.trainable(), mx.trainable()
		worst := 0.0
		for i := range sg {
			var num, den float64
			for j := range sg[i] {
				d, g := float64(sx[i][j]-sg[i][j]), float64(sg[i][j]-s0[i][j])
				num += d * d
				den += g * g
			}
			if den == 0 {
				continue
			}
			r := num / den
			worst = max(worst, r)
			if r > epochTolerance*epochTolerance {
				t.Errorf("%s: group %d: ‖ggml−Go‖/‖Go−start‖ = %.3g > %g", om.name, i, sqrt(r), epochTolerance)
			}
		}
		moved, differ, total := 0, 0, 0
		for i, tg := range mg.tensors {
			for j, id := range tg.idx {
				total++
				if id != start.tensors[i].idx[j] {
					moved++
				}
				if id != mx.tensors[i].idx[j] {
					differ++
				}
			}
		}
		t.Logf("%s: %d groups, worst %.3g; indices: %d of %d moved (Go), %d differ between engines", om.name, len(sg), sqrt(worst), moved, total, differ)
		if differ*100 > moved {
			t.Errorf("%s: %d indices differ between the engines, %d moved: want at most 1%% of those moved", om.name, differ, moved)
		}
	}
}
