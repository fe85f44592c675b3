package finetune

import (
	"fmt"
	"strings"
	"sync"

	"github.com/pocketgguf/pocketgguf/bridge"
)

// ggmlEngine holds a pqModel's student on a bridge.Trainer: PQ weights are
// rebuilt in the ggml graph from their codes, LUTs and scales, so only LUTs,
// scales, norms and (when indices move) codes travel per step.
type ggmlEngine struct {
	c       Config
	m       *pqModel
	tr      *bridge.Trainer
	tables  []int          // slot of m.tables[i]
	tensors []int          // slot of m.tensors[i]
	norms   map[string]int // slot of each trained norm
	dense   bool           // the graph gives each rebuilt PQ weight's gradient (wantDense)
	// gDense holds those gradients summed over a batch's graphs, once
	// keepDenseGrads asked for them; until then denseGrad reads them from the
	// trainer, so that they are not kept twice.
	gDense [][]float32
	gNorm  map[string][]float32
	codes  []int32 // scratch for uploading codes
}

// denseShape is a Llama tensor's ggml shape (ne0 = input width, ne1 = rows).
func denseShape(c Config, name string) (ne0, ne1 int) {
	switch {
	case strings.HasSuffix(name, "norm.weight"):
		return c.Dim, 1
	case name == "token_embd.weight" || name == "output.weight":
		return c.Dim, c.Vocab
	case strings.HasSuffix(name, "ffn_down.weight"):
		return c.FF, c.Dim
	case strings.HasSuffix(name, "ffn_gate.weight") || strings.HasSuffix(name, "ffn_up.weight"):
		return c.Dim, c.FF
	case strings.HasSuffix(name, "attn_k.weight") || strings.HasSuffix(name, "attn_v.weight"):
		return c.Dim, c.KVHeads * c.HeadDim
	}
	return c.Dim, c.Dim
}

// newGGMLEngine declares and uploads m; wantDense keeps the gradient of
// every rebuilt weight (the straight-through index step needs it). A lean
// m's fixed tensors are read from its file one at a time as they are uploaded.
func newGGMLEngine(c Config, m *pqModel, threads int, wantDense bool) (*ggmlEngine, error) {
	e := &ggmlEngine{c: c, m: m, dense: wantDense, norms: map[string]int{}, gNorm: map[string][]float32{}}
	e.tr = bridge.NewTrainer(bridge.TrainConfig{Dim: c.Dim, Layers: c.Layers, Heads: c.Heads, KVHeads: c.KVHeads, FF: c.FF,
		Vocab: c.Vocab, HeadDim: c.HeadDim, RopeDims: c.RopeDims, RopeBase: c.RopeBase, Eps: c.Eps, Threads: threads})
	slotOf := map[*pqTable]int{}
	for _, tb := range m.tables {
		// An additive table enters the graph as its product LUT (16^M sums):
		// its tensors hold product indices, as in the Go pass.
		h := e.tr.Table(tb.tb.V, len(tb.lut)/tb.tb.V, tb.train)
		slotOf[tb] = h
		e.tables = append(e.tables, h)
	}
	isPQ := map[string]bool{}
	for _, t := range m.tensors {
		h, err := e.tr.PQ(t.name, t.rows, t.cols, slotOf[t.table], t.v, t.scales != nil, wantDense)
		if err != nil {
			e.close()
			return nil, err
		}
		e.tensors = append(e.tensors, h)
		isPQ[t.name] = true
	}
	trained := map[string]bool{}
	for _, n := range m.norms {
		trained[n] = true
	}
	consts := map[int]string{}
	for _, n := range sortedKeys(m.sizes) {
		if isPQ[n] {
			continue
		}
		ne0, ne1 := denseShape(c, n)
		if ne0*ne1 != m.sizes[n] {
			e.close()
			return nil, fmt.Errorf("fine-tuning on ggml: %s has %d values, want %d x %d", n, m.sizes[n], ne0, ne1)
		}
		h := e.tr.Dense(n, ne0, ne1, trained[n])
		if trained[n] {
			e.norms[n] = h
			e.gNorm[n] = make([]float32, m.sizes[n])
		} else {
			consts[h] = n
		}
	}
	if err := e.tr.Alloc(); err != nil {
		e.close()
		return nil, err
	}
	for h, n := range consts {
		x, err := m.fixed(n)
		if err != nil {
			e.close()
			return nil, err
		}
		e.tr.Set(h, x)
	}
	e.upload(true)
	if !wantDense {
		e.codes = nil // the codes are uploaded once: with wantDense (indices moving), after every step
	}
	return e, nil
}

// keepDenseGrads makes run keep each rebuilt weight's gradient in Go,
// summed over the graphs of a batch (a batch of several sequence lengths
// runs one graph per length, and the trainer holds only the last one's).
func (e *ggmlEngine) keepDenseGrads() {
	if !e.dense || e.gDense != nil {
		return
	}
	for _, t := range e.m.tensors {
		e.gDense = append(e.gDense, make([]float32, t.rows*t.cols))
	}
}

// denseGrad is the gradient of m.tensors[i]'s rebuilt weight from the last
// batch: gDense's when kept, else read from the trainer into buf.
func (e *ggmlEngine) denseGrad(i int, buf []float32) []float32 {
	if e.gDense != nil {
		return e.gDense[i]
	}
	if !e.tr.Grad(e.tensors[i], 1, buf) {
		clear(buf)
	}
	return buf
}

func (e *ggmlEngine) close() { e.tr.Close() }

// upload writes the trained values (and the codes, with codes) to the graph.
func (e *ggmlEngine) upload(codes bool) {
	for i, tb := range e.m.tables {
		e.tr.Set(e.tables[i], tb.lut)
	}
	for n, h := range e.norms {
		e.tr.Set(h, e.m.normW[n])
	}
	for i, t := range e.m.tensors {
		if t.scales != nil {
			e.tr.Set(e.tensors[i], t.scales)
		}
		if codes {
			if cap(e.codes) < len(t.idx) {
				e.codes = make([]int32, len(t.idx))
			}
			c := e.codes[:len(t.idx)]
			for j, x := range t.idx {
				c[j] = int32(x)
			}
			e.tr.SetCodes(e.tensors[i], c)
		}
	}
}

// run evaluates seqs (all of one length) against their teachers and returns
// the summed KL; with grad, the gradients of scale·KL are added into the
// pqModel's gLUT, gScales, e.gNorm and e.gDense (overwritten when reset).
func (e *ggmlEngine) run(seqs [][]int32, te []*bridge.Teacher, scale float32, grad, reset bool) (float64, error) {
	T, B := len(seqs[0]), len(seqs)
	tokens := make([]int32, 0, T*B)
	all := &bridge.Teacher{K: te[0].K}
	for i, s := range seqs {
		tokens = append(tokens, s...)
		all.Idx = append(all.Idx, te[i].Idx...)
		all.LogP = append(all.LogP, te[i].LogP...)
		all.Rest = append(all.Rest, te[i].Rest...)
	}
	kl, err := e.tr.Run(T, B, tokens, all, scale, grad)
	if err != nil || !grad {
		return kl, err
	}
	var buf []float32
	acc := func(h, part int, dst []float32) {
		if cap(buf) < len(dst) {
			buf = make([]float32, len(dst))
		}
		b := buf[:len(dst)]
		if !e.tr.Grad(h, part, b) {
			clear(b)
		}
		if reset {
			copy(dst, b)
		} else {
			axpy(1, b, dst)
		}
	}
	for i, tb := range e.m.tables {
		if tb.train {
			acc(e.tables[i], 0, tb.gLUT)
		}
	}
	for i, t := range e.m.tensors {
		if t.scales != nil {
			acc(e.tensors[i], 0, t.gScales)
		}
		if e.gDense != nil {
			acc(e.tensors[i], 1, e.gDense[i])
		}
	}
	for n, h := range e.norms {
		acc(h, 0, e.gNorm[n])
	}
	return kl, nil
}

// parallelFor runs f(i) for i in [0, n) on up to threads goroutines.
func parallelFor(n, threads int, f func(i int)) {
	var wg sync.WaitGroup
	workers := max(1, min(threads, n))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += workers {
				f(i)
			}
		}(w)
	}
	wg.Wait()
}
