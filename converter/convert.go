package converter

import (
	"context"
	"fmt"
	"math"
	"time"

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
	if opt.BPW > 0 && float64(plan.Predicted)*8/float64(plan.Elements) > opt.BPW {
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
func Convert(ctx context.Context, in, out string, opt Options) (*Result, error) {
	ev := opt.Events
	if ev == nil {
		ev = nopEvents{}
	}
	g, err := gguf.Open(in)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	imatrix := opt.ImatrixData
	if opt.Imatrix != "" {
		if imatrix, err = calib.Load(opt.Imatrix); err != nil {
			return nil, err
		}
	}
	plan, err := MakePlan(ctx, g, &opt)
	if err != nil {
		return nil, err
	}
	for _, tp := range plan.Tensors {
		if tp.Choice.PQ && tp.Info.Type == gguf.TypeQ8_0 {
			ev.Warn(fmt.Sprintf("tensor %q is q8_0: compression quality is bounded by that quantization", tp.Info.Name))
		}
	}
	importance := func(t *gguf.TensorInfo) []float32 {
		imp := imatrix[t.Name]
		if imp != nil && len(imp) != int(t.Cols()) {
			ev.Warn(fmt.Sprintf("--imatrix: %s has %d values for row length %d; ignored", t.Name, len(imp), t.Cols()))
			return nil
		}
		return imp
	}

	var ck *checkpoint
	if opt.Resume {
		fp, err := fingerprint(g, &opt, plan)
		if err != nil {
			return nil, err
		}
		base := out
		if opt.CheckpointFor != "" {
			base = opt.CheckpointFor
		}
		if ck, err = openCheckpoint(base+".partial", fp); err != nil {
			return nil, err
		}
	}

	var total int64
	for _, gr := range plan.Groups {
		for _, i := range gr.Members {
			total += int64(plan.Tensors[i].Info.Elements())
		}
	}
	total += plan.Elements
	ev.Begin(total)

	// The output exists from here on only as a temporary file (removed by Abort).
	f, err := gguf.CreateAtomic(out)
	if err != nil {
		return nil, err
	}
	defer f.Abort()
	if opt.TempCreated != nil {
		opt.TempCreated(f.Name())
	}

	// 1. Train one table per group from samples of all its tensors.
	tables := make([]*format.Table, len(plan.Groups))
	for gi := range plan.Groups {
		gr := &plan.Groups[gi]
		var units, vecs int64
		for _, i := range gr.Members {
			units += int64(plan.Tensors[i].Info.Elements())
			vecs += int64(plan.Tensors[i].Info.Elements()) / int64(gr.Type.V)
		}
		ev.Step("train "+gr.Name, units)
		if ck != nil {
			if tb := ck.loadTable(gi); tb != nil && tb.Validate(gr.Name, gr.Type.MaxK()) == nil && tb.M() == gr.Type.Codebooks {
				tables[gi] = tb
				ev.EndStep("table " + gr.Name + " from " + ck.dir)
				continue
			}
		}
		start := time.Now()
		qo := quantOptions(&opt, gr)
		budget := int64(quant.DefaultTrainVectors(gr.searchEntries()))
		var samples quant.Samples
		var done int64
		for _, i := range gr.Members {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			t := &plan.Tensors[i].Info
			m, err := readMatrix(g, t)
			if err != nil {
				return nil, err
			}
			nv := int64(t.Elements()) / int64(gr.Type.V)
			n := (budget*nv + vecs - 1) / vecs
			s, err := quant.Sample(m, importance(t), qo, int(max(n, 1)))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", in, err)
			}
			samples.Append(s)
			done += int64(t.Elements()) / 2
			ev.Progress(done)
		}
		half := done
		tb, err := quant.Train(samples, qo, func(d, tot int64) {
			if tot > 0 {
				ev.Progress(half + (units-half)*d/tot)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("%s: table %q: %w", in, gr.Name, err)
		}
		tb.Sharing = gr.Sharing
		if err := tb.Validate(gr.Name, gr.Type.MaxK()); err != nil {
			return nil, err
		}
		tables[gi] = tb
		if ck != nil {
			if err := ck.saveTable(gi, tb); err != nil {
				return nil, fmt.Errorf("--resume: %w", err)
			}
		}
		ev.EndStep(fmt.Sprintf("table %s: %s K=%d, %d tensors, %d samples, %.1fs", gr.Name, gr.Type.Name, gr.K, len(gr.Members), samples.Len(), time.Since(start).Seconds()))
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}

	// 2. Lay out the file and stream tensors into it.
	scales := map[int][]uint16{}
	rel := map[int]float32{}
	kvs := buildKVs(g, plan, &opt, tables, nil, nil)
	infos := outputInfos(plan)
	w, err := gguf.NewWriter(f, kvs, infos)
	if err != nil {
		return nil, err
	}
	luts := make([][]float32, len(tables))
	res := &Result{Plan: plan, RelRMSE: map[string]float64{}, Elements: plan.Elements}
	for i := range plan.Tensors {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		tp := &plan.Tensors[i]
		t := &tp.Info
		ev.Step(t.Name, int64(t.Elements()))
		var data []byte
		msg := ""
		var saved *tensorCheckpoint
		if ck != nil {
			saved = ck.loadTensor(i)
		}
		switch {
		case saved != nil && int64(len(saved.Data)) == int64(infos[i].Size()):
			data, msg = saved.Data, saved.Msg+" (from "+ck.dir+")"
			if saved.Scales != nil {
				scales[i] = saved.Scales
			}
			if saved.HasRel {
				rel[i] = float32(saved.RelRMSE)
				res.RelRMSE[t.Name] = saved.RelRMSE
			}
		case !tp.Choice.PQ && tp.Choice.Dense == t.Type:
			if data, err = g.ReadTensor(t); err != nil {
				return nil, err
			}
			msg = "copied " + gguf.TypeName(t.Type)
		case !tp.Choice.PQ:
			x, err := g.ReadTensorF32(t)
			if err != nil {
				return nil, err
			}
			if data, err = gguf.FromFloat32(tp.Choice.Dense, x); err != nil {
				return nil, fmt.Errorf("%s: tensor %q: %w", in, t.Name, err)
			}
			msg = gguf.TypeName(t.Type) + " → " + gguf.TypeName(tp.Choice.Dense)
		default:
			gr := &plan.Groups[tp.Group]
			if luts[tp.Group] == nil {
				luts[tp.Group] = format.IndexLUT(tables[tp.Group], gr.Type)
			}
			m, err := readMatrix(g, t)
			if err != nil {
				return nil, err
			}
			prog := func(d, tot int64) { ev.Progress(int64(t.Elements()) * d / max(tot, 1)) }
			var a *quant.Assignment
			how := ""
			if hess := opt.InputCovariance[t.Name]; len(hess) == m.Cols*m.Cols {
				a, err = quant.AssignGPTQ(tables[tp.Group], luts[tp.Group], m, hess, quantOptions(&opt, gr), prog)
				how = ", gptq"
			} else {
				a, err = quant.Assign(tables[tp.Group], luts[tp.Group], m, importance(t), quantOptions(&opt, gr), prog)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", in, err)
			}
			if err := checkIndices(t.Name, gr.Type, gr.K, a.Indices); err != nil {
				return nil, err
			}
			data = make([]byte, gr.Type.RowBytes(int(t.Cols()))*int(t.Rows()))
			format.PackTensor(gr.Type, format.SliceRows(t), int(t.Cols()), a.Indices, data)
			if tp.RowScale {
				s := make([]uint16, len(a.Scales))
				for r, x := range a.Scales {
					s[r] = gguf.FloatToHalf(x) // quant's scales are f16-rounded already
				}
				scales[i] = s
			}
			rel[i] = float32(a.RelRMSE)
			res.RelRMSE[t.Name] = a.RelRMSE
			msg = fmt.Sprintf("%s via %s%s, rel_rmse %.4f", gr.Type.Name, gr.Name, how, a.RelRMSE)
		}
		if err := w.WriteTensor(i, data); err != nil {
			return nil, fmt.Errorf("writing %s: tensor %q: %w", out, t.Name, err)
		}
		if ck != nil && saved == nil && tp.Choice.PQ {
			_, hasRel := res.RelRMSE[t.Name]
			if err := ck.saveTensor(i, &tensorCheckpoint{Data: data, Scales: scales[i], RelRMSE: res.RelRMSE[t.Name], HasRel: hasRel, Msg: msg}); err != nil {
				return nil, fmt.Errorf("--resume: %w", err)
			}
		}
		ev.EndStep(msg)
	}
	if err := w.Finish(buildKVs(g, plan, &opt, tables, scales, rel)); err != nil {
		return nil, fmt.Errorf("writing %s: %w", out, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := f.Commit(); err != nil {
		return nil, err
	}
	if ck != nil {
		ck.remove()
	}
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
