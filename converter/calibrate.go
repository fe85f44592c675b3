package converter

import (
	"context"
	"math"

	"github.com/pocketgguf/pocketgguf/quant"
)

// Calibration: the allocator's error model relMSE ≈ c(v)·2^(−2·log2 K / v)
// ranks options well but treats all tensors as equally hard. Heavy tails and
// outlier channels make some tensors much harder to vector-quantise, so before
// allocating, each candidate gets a quick k-means (K = 16, up to 8192
// sub-vectors from 32 rows spread over the tensor) per sub-vector length, and
// its difficulty — measured error over the model's prediction, geometric mean
// over v — scales its estimates. Cost: about 0.1 s of CPU per tensor.

const (
	calibK       = 16
	calibRows    = 32
	calibVectors = 8192
)

func (p *planner) calibrate(ctx context.Context, ev Events) error {
	p.difficulty = make([]float64, len(p.tensors))
	for i := range p.difficulty {
		p.difficulty[i] = 1
	}
	var todo []int
	var units int64
	for i := range p.tensors {
		if len(p.options[i]) > 1 && hasPQ(p.options[i]) {
			todo = append(todo, i)
			units += int64(p.tensors[i].Info.Cols()) * min(int64(p.tensors[i].Info.Rows()), calibRows)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	ev.Step("estimate error per tensor", units)
	var done int64
	for _, i := range todo {
		if err := ctx.Err(); err != nil {
			return err
		}
		t := &p.tensors[i].Info
		nr := int(min(t.Rows(), calibRows))
		rows := make([]int, nr)
		for r := range rows {
			rows[r] = int(uint64(r) * t.Rows() / uint64(nr))
		}
		x, err := p.g.ReadRowsF32(t, rows)
		if err != nil {
			return err
		}
		m := quant.Matrix{Name: t.Name, Rows: nr, Cols: int(t.Cols()), Data: x}
		var logSum float64
		var n int
		for _, v := range []int{2, 4, 8} {
			if m.Cols%v != 0 {
				continue
			}
			rel, err := kmeansRelMSE(m, v, p.opt)
			if err != nil {
				return err
			}
			model := pqConstant[v] * math.Exp2(-2*math.Log2(calibK)/float64(v))
			logSum += math.Log(math.Max(rel, 1e-9) / model)
			n++
		}
		if n > 0 {
			p.difficulty[i] = math.Min(math.Max(math.Exp(logSum/float64(n)), 0.1), 10)
		}
		done += int64(m.Rows * m.Cols)
		ev.Progress(done)
	}
	ev.EndStep("done")
	return nil
}

func hasPQ(cs []Choice) bool {
	for _, c := range cs {
		if c.PQ {
			return true
		}
	}
	return false
}

// kmeansRelMSE is Σ‖x − nearest centroid‖² / Σ‖x‖² of a K=16 k-means fit.
func kmeansRelMSE(m quant.Matrix, v int, opt *Options) (float64, error) {
	qo := quant.Options{Method: quant.MethodKMeans, V: v, K: calibK, Epochs: 10, Seed: opt.Seed, Threads: 1}
	s, err := quant.Sample(m, nil, qo, calibVectors)
	if err != nil {
		return 0, err
	}
	if s.Len() < 2*calibK {
		return pqConstant[v] * math.Exp2(-2*math.Log2(calibK)/float64(v)), nil
	}
	tb, err := quant.Train(s, qo, nil)
	if err != nil {
		return 0, err
	}
	lut := tb.BuildLUT(tb.K)
	var num, den float64
	for o := 0; o+v <= len(s.X); o += v {
		x := s.X[o : o+v]
		best := math.Inf(1)
		for k := 0; k < tb.K; k++ {
			var d float64
			for t := 0; t < v; t++ {
				e := float64(x[t] - lut[k*v+t])
				d += e * e
			}
			best = math.Min(best, d)
		}
		num += best
		for _, xv := range x {
			den += float64(xv) * float64(xv)
		}
	}
	if den == 0 {
		return 1e-9, nil
	}
	return num / den, nil
}
