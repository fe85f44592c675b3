package converter

import (
	"context"
	"fmt"
	"math"

	"github.com/pocketgguf/pocketgguf/calib"
	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/gguf"
	"github.com/pocketgguf/pocketgguf/quant"
)

// Result describes a finished conversion.
type Result struct {
	Plan        *Plan
	InputBytes  int64
	OutputBytes int64
	Elements    int64
	F16Bytes    int64   // the same model as an all-F16 GGUF: input metadata + 2 bytes per weight
	BPW         float64 // whole-file bits per weight: OutputBytes*8/Elements
	RelRMSE     map[string]float64
}

// RatioF16 is how many times smaller than F16 the output is.
func (r *Result) RatioF16() float64 { return float64(r.F16Bytes) / float64(r.OutputBytes) }

// MakePlan decides every tensor's storage and the tables, without training.
func MakePlan(ctx context.Context, g *gguf.File, opt *Options) (*Plan, error) {
	if err := opt.check(); err != nil {
		return nil, err
	}
	p, err := newPlanner(g, opt)
	if err != nil {
		return nil, err
	}
	if err := p.buildOptions(); err != nil {
		return nil, err
	}
	ev := opt.Events
	if ev == nil {
		ev = nopEvents{}
	}
	if err := p.calibrate(ctx, ev); err != nil {
		return nil, err
	}
	choices, err := p.allocate()
	if err != nil {
		return nil, err
	}
	plan := &Plan{Tensors: p.tensors, Elements: p.elements, tp: p.tp}
	for i := range plan.Tensors {
		plan.Tensors[i].Choice = choices[i]
	}
	plan.Groups = p.groups(choices)
	for gi, gr := range plan.Groups {
		for _, i := range gr.Members {
			plan.Tensors[i].Group = gi
			plan.Tensors[i].RowScale = gr.RowScale
		}
	}
	// Exact size: lay the file out with tables of the shape training will give.
	tables := make([]*format.Table, len(plan.Groups))
	for gi, gr := range plan.Groups {
		d := p.tp.latent(gr.Type.V)
		tb := &format.Table{V: gr.Type.V, K: gr.K, Latent: d, Codebook: make([]float32, gr.Type.Codebooks*gr.K*d), Blocks: p.tp.blocks, Hidden: p.tp.hidden, Sharing: gr.Sharing}
		if gr.Type.Additive() {
			tb.Codebooks = gr.Type.Codebooks
		}
		tb.Decoder = make([]float32, tb.DecoderLen())
		tables[gi] = tb
	}
	kvs := buildKVs(g, plan, opt, tables, nil, nil)
	w, err := gguf.NewWriter(discard{}, kvs, outputInfos(plan))
	if err != nil {
		return nil, err
	}
	plan.Predicted = w.FileSize()
	if opt.budget().exceeded(plan.Predicted, plan.Elements) {
		return nil, p.impossible(plan.Predicted)
	}
	return plan, nil
}

type discard struct{}

func (discard) WriteAt(p []byte, _ int64) (int, error) { return len(p), nil }

// outputInfos are the output tensor infos: same names and shapes, new types.
func outputInfos(plan *Plan) []gguf.TensorInfo {
	out := make([]gguf.TensorInfo, len(plan.Tensors))
	for i, tp := range plan.Tensors {
		out[i] = tp.Info
		out[i].Shape = append([]uint64(nil), tp.Info.Shape...)
		if tp.Choice.PQ {
			out[i].Type = tp.Choice.Type.ID
		} else {
			out[i].Type = tp.Choice.Dense
		}
	}
	return out
}

// buildKVs is the output metadata: every input key in order and byte-exact
// (general.file_type set to PQ when there are PQ tensors), then pocket.* keys.
// scales/rel may be nil (placeholders of the right length are used).
func buildKVs(g *gguf.File, plan *Plan, opt *Options, tables []*format.Table, scales map[int][]uint16, rel map[int]float32) []gguf.KV {
	hasPQ := len(plan.Groups) > 0
	var kvs []gguf.KV
	haveFT := false
	for _, kv := range g.KVs {
		if kv.Key == "general.file_type" && hasPQ {
			kv.Value, haveFT = gguf.U32(format.FileTypePQ), true
		}
		kvs = append(kvs, kv)
	}
	if !hasPQ {
		return kvs
	}
	if !haveFT {
		kvs = append(kvs, gguf.KV{Key: "general.file_type", Value: gguf.U32(format.FileTypePQ)})
	}
	additive := false
	for _, gr := range plan.Groups {
		additive = additive || gr.Type.Additive()
	}
	kvs = append(kvs, format.HeaderKVs(format.VersionFor(additive), opt.method(), opt.Seed)...)
	for gi, gr := range plan.Groups {
		tb := *tables[gi]
		tb.Sharing = gr.Sharing // the plan's, also for a table read back from a checkpoint
		kvs = append(kvs, format.TableKVs(gr.Name, &tb)...)
	}
	for i, tp := range plan.Tensors {
		if !tp.Choice.PQ {
			continue
		}
		var s []uint16
		if tp.RowScale {
			if s = scales[i]; s == nil {
				s = make([]uint16, tp.Info.Rows())
			}
		}
		kvs = append(kvs, format.TensorKVs(tp.Info.Name, plan.Groups[tp.Group].Name, s, rel[i])...)
	}
	return kvs
}

// quantOptions are the training options of one group.
func quantOptions(opt *Options, gr *GroupPlan) quant.Options {
	return quant.Options{Method: opt.method(), V: gr.Type.V, K: gr.K, Hidden: opt.Hidden, Epochs: opt.Epochs, LR: opt.LR,
		Seed: opt.Seed, Threads: opt.Threads, RowScale: gr.RowScale, Codebooks: gr.Type.Codebooks}
}

// Convert writes the PocketGGUF of in to out. The output appears only when
// everything succeeded; on error or cancellation the temporary file is removed.
// The steps (pipeline.go): plan, open the checkpoint, train the tables, encode
// and stream the tensors, write the header with what encoding measured.
func Convert(ctx context.Context, in, out string, opt Options) (*Result, error) {
	g, err := gguf.Open(in)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	j := &job{ctx: ctx, in: in, out: out, opt: &opt, ev: opt.Events, g: g, imatrix: opt.ImatrixData}
	if j.ev == nil {
		j.ev = nopEvents{}
	}
	if opt.Imatrix != "" {
		if j.imatrix, err = calib.Load(opt.Imatrix); err != nil {
			return nil, err
		}
	}
	if j.plan, err = MakePlan(ctx, g, &opt); err != nil {
		return nil, err
	}
	for _, tp := range j.plan.Tensors {
		if tp.Choice.PQ && tp.Info.Type == gguf.TypeQ8_0 {
			j.ev.Warn(fmt.Sprintf("tensor %q is q8_0: compression quality is bounded by that quantization", tp.Info.Name))
		}
	}
	if err := j.openCheckpoint(); err != nil {
		return nil, err
	}
	j.ev.Begin(j.totalWork())

	// The output exists from here on only as a temporary file (removed by Abort).
	f, err := gguf.CreateAtomic(out)
	if err != nil {
		return nil, err
	}
	defer f.Abort()
	if opt.TempCreated != nil {
		opt.TempCreated(f.Name())
	}
	if err := j.trainTables(); err != nil {
		return nil, err
	}
	w, err := j.writeTensors(f)
	if err != nil {
		return nil, err
	}
	if err := w.Finish(buildKVs(g, j.plan, &opt, j.tables, j.scales, j.rel)); err != nil {
		return nil, fmt.Errorf("writing %s: %w", out, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := f.Commit(); err != nil {
		return nil, err
	}
	if j.ck != nil {
		j.ck.remove()
	}
	res := j.res
	res.InputBytes = g.Size
	res.OutputBytes = w.FileSize()
	res.BPW = float64(res.OutputBytes) * 8 / float64(res.Elements)
	res.F16Bytes = g.DataOffset + 2*res.Elements
	return res, nil
}

// readMatrix reads a 2-D tensor as a row-major float32 matrix.
func readMatrix(g *gguf.File, t *gguf.TensorInfo) (quant.Matrix, error) {
	x, err := g.ReadTensorF32(t)
	if err != nil {
		return quant.Matrix{}, err
	}
	for j, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return quant.Matrix{}, fmt.Errorf("%s: tensor %q: weight [%d, %d] is %v", g.Path, t.Name, j/int(t.Cols()), j%int(t.Cols()), v)
		}
	}
	return quant.Matrix{Name: t.Name, Rows: int(t.Rows()), Cols: int(t.Cols()), Data: x}, nil
}

// Check refuses, in milliseconds, what Convert would refuse only after its
// long work: bad options, tensors the flags cannot store, and a --bpw no
// layout reaches. The CLI calls it before calibration, which can take hours.
func Check(g *gguf.File, opt Options) error {
	if err := opt.check(); err != nil {
		return err
	}
	p, err := newPlanner(g, &opt)
	if err != nil {
		return err
	}
	if err := p.buildOptions(); err != nil {
		return err
	}
	for _, l := range p.layouts() {
		p.layout = l
		if s := p.newSearch(); s.size <= s.target {
			return nil
		}
	}
	return p.unreachable()
}
