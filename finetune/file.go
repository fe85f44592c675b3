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
	teacher := NewWeights(c, !HasOutput(orig))
	if err := teacher.Load(orig, nil); err != nil {
		return nil, err
	}
	m, err := loadPQModel(pq, c)
	if err != nil {
		return nil, err
	}
	if len(m.tensors) == 0 {
		return nil, fmt.Errorf("%s has no PQ tensors to fine-tune", pqPath)
	}
	var rep *Report
	switch o.Engine {
	case EngineGo:
		rep, err = tune(ctx, c, teacher, m, seqs, o, readStoredAs(pq, m))
	case "", EngineGGML:
		rep, err = tuneGGML(ctx, c, llamaTeacher(origPath), m, seqs, o, readStoredAs(pq, m))
	default:
		err = fmt.Errorf("fine-tuning engine %q: want %q or %q", o.Engine, EngineGGML, EngineGo)
	}
	if err != nil {
		return nil, err
	}
	if err := write(pq, outPath, m, teacher); err != nil {
		return nil, err
	}
	return rep, nil
}

// write copies pq to out with the tuned codebooks, scales, norms and the
// rel_rmse of each PQ tensor against the original weights.
func write(pq *gguf.File, out string, m *pqModel, teacher *Weights) error {
	orig := teacher.Named()
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
	for _, t := range m.tensors {
		if t.scales != nil {
			repl[format.KeyTensorScale(t.name)] = like(format.KeyTensorScale(t.name), t.scales)
		}
		if _, ok := pq.KV(format.KeyTensorRelRMSE(t.name)); ok {
			repl[format.KeyTensorRelRMSE(t.name)] = gguf.F32(relRMSE(orig[t.name], t.dense))
		}
	}
	kvs := make([]gguf.KV, len(pq.KVs))
	for i, kv := range pq.KVs {
		if v, ok := repl[kv.Key]; ok {
			kv.Value = v
		}
		kvs[i] = kv
	}
	named := m.w.Named()
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
			return pqs[name].packed(), nil
		case norms[name]:
			return gguf.FromFloat32(gguf.TypeF32, named[name])
		}
		return nil, nil
	})
}
