package finetune

import (
	"context"
	"fmt"

	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/gguf"
)

// Run fine-tunes the PocketGGUF pqPath against its original origPath on the
// token sequences seqs and writes the result to outPath (which may be
// pqPath: the output appears by rename only when everything succeeded).
// Only values change, never sizes, so the output has pqPath's size exactly.
func Run(ctx context.Context, origPath, pqPath, outPath string, seqs [][]int32, o Options) (*Report, error) {
	orig, err := gguf.Open(origPath)
	if err != nil {
		return nil, err
	}
	defer orig.Close()
	pq, err := gguf.Open(pqPath)
	if err != nil {
		return nil, err
	}
	defer pq.Close()
	for i := range orig.Tensors {
		if _, isPQ := format.LookupPQ(orig.Tensors[i].Type); isPQ {
			return nil, fmt.Errorf("%s is a PocketGGUF (tensor %q): give the original model first, then the PocketGGUF", origPath, orig.Tensors[i].Name)
		}
	}
	c, err := ReadConfig(orig)
	if err != nil {
		return nil, err
	}
	if c2, err := ReadConfig(pq); err != nil {
		return nil, err
	} else if c2 != c {
		return nil, fmt.Errorf("%s and %s are not the same model shape (%+v vs %+v)", origPath, pqPath, c, c2)
	}
	// The ggml engine needs neither model as f32: the teacher runs in
	// libllama from its file and the trainer rebuilds PQ weights from their
	// codes, so only the Go engine (the reference) loads both whole.
	var (
		m   *pqModel
		rep *Report
	)
	switch o.Engine {
	case EngineGo:
		teacher := NewWeights(c, !HasOutput(orig))
		if err := teacher.Load(orig, nil); err != nil {
			return nil, err
		}
		if m, err = loadPQModel(pq, c); err != nil {
			return nil, err
		}
		if len(m.tensors) == 0 {
			return nil, fmt.Errorf("%s has no PQ tensors to fine-tune", pqPath)
		}
		rep, err = tune(ctx, c, teacher, m, seqs, o, readStoredAs(pq, m))
	case "", EngineGGML:
		// What loading the teacher would check, so that a bad original fails
		// before training and not when rel_rmse is computed after it.
		if err := checkTensors(orig, weightSizes(c, !HasOutput(orig)), !HasOutput(orig), nil); err != nil {
			return nil, err
		}
		if m, err = loadPQModelLean(pq, c); err != nil {
			return nil, err
		}
		if len(m.tensors) == 0 {
			return nil, fmt.Errorf("%s has no PQ tensors to fine-tune", pqPath)
		}
		rep, err = tuneGGML(ctx, c, llamaTeacher(origPath), m, seqs, o, readStoredAs(pq, m))
	default:
		err = fmt.Errorf("fine-tuning engine %q: want %q or %q", o.Engine, EngineGGML, EngineGo)
	}
	if err != nil {
		return nil, err
	}
	if err := write(orig, pq, outPath, m); err != nil {
		return nil, err
	}
	return rep, nil
}

// write copies pq to out with the tuned codebooks, scales, norms and the
// rel_rmse of each PQ tensor against the original weights, read from orig
// and rebuilt one tensor at a time.
func write(orig, pq *gguf.File, out string, m *pqModel) error {
	repl := map[string]gguf.Value{}
	like := func(key string, x []float32) gguf.Value {
		v, _ := pq.KV(key)
		return format.FloatsLike(v, x)
	}
	for _, tb := range m.tables {
		if tb.train {
			repl[format.KeyTableCodebook(tb.name)] = like(format.KeyTableCodebook(tb.name), tb.tb.Codebook)
		}
	}
	origTied := !HasOutput(orig)
	var got []float32
	for _, t := range m.tensors {
		if t.scales != nil {
			repl[format.KeyTensorScale(t.name)] = like(format.KeyTensorScale(t.name), t.scales)
		}
		if _, ok := pq.KV(format.KeyTensorRelRMSE(t.name)); ok {
			name := t.name
			if name == "output.weight" && origTied {
				name = "token_embd.weight" // the original's head is its embedding
			}
			ti, _, err := lookTensor(orig, name, t.rows*t.cols, false)
			if err != nil {
				return err
			}
			want, err := orig.ReadTensorF32(ti)
			if err != nil {
				return err
			}
			if cap(got) < len(want) {
				got = make([]float32, len(want))
			}
			got = got[:len(want)]
			idx, err := m.indices(t)
			if err != nil {
				return err
			}
			t.decode(idx, got)
			repl[format.KeyTensorRelRMSE(t.name)] = gguf.F32(relRMSE(want, got))
		}
	}
	kvs := make([]gguf.KV, len(pq.KVs))
	for i, kv := range pq.KVs {
		if v, ok := repl[kv.Key]; ok {
			kv.Value = v
		}
		kvs[i] = kv
	}
	norms := map[string]bool{}
	for _, n := range m.norms {
		norms[n] = true
	}
	pqs := map[string]*pqTensor{}
	for _, t := range m.tensors {
		pqs[t.name] = t
	}
	return gguf.Rewrite(pq, out, kvs, func(i int) ([]byte, error) {
		name := pq.Tensors[i].Name
		switch {
		case pqs[name] != nil:
			return pqs[name].packed(), nil // nil: unchanged, copied
		case norms[name]:
			return gguf.FromFloat32(gguf.TypeF32, m.normW[name])
		}
		return nil, nil
	})
}
