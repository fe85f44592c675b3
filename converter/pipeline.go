package converter

import (
	"context"
	"fmt"
	"time"

	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/gguf"
	"github.com/pocketgguf/pocketgguf/quant"
)

// job is one conversion in progress: what Convert's steps read and fill in.
type job struct {
	ctx     context.Context
	in, out string
	opt     *Options
	ev      Events
	g       *gguf.File
	plan    *Plan
	imatrix map[string][]float32
	ck      *checkpoint // nil without --resume

	tables []*format.Table  // per group, once trained
	luts   [][]float32      // per group, built on first use
	scales map[int][]uint16 // per PQ tensor with row scales
	rel    map[int]float32  // per PQ tensor: measured reconstruction error
	res    *Result
}

// importance is the imatrix column weights of t, nil when there are none or they do not fit.
func (j *job) importance(t *gguf.TensorInfo) []float32 {
	imp := j.imatrix[t.Name]
	if imp != nil && len(imp) != int(t.Cols()) {
		j.ev.Warn(fmt.Sprintf("--imatrix: %s has %d values for row length %d; ignored", t.Name, len(imp), t.Cols()))
		return nil
	}
	return imp
}

// openCheckpoint opens OUT.partial/ (or CheckpointFor's) under the fingerprint of input,
// options and plan, when --resume asks for it.
func (j *job) openCheckpoint() error {
	if !j.opt.Resume {
		return nil
	}
	fp, err := fingerprint(j.g, j.opt, j.plan)
	if err != nil {
		return err
	}
	base := j.out
	if j.opt.CheckpointFor != "" {
		base = j.opt.CheckpointFor
	}
	j.ck, err = openCheckpoint(base+".partial", fp)
	return err
}

// totalWork is the progress total: every table's training samples its members once, and
// every tensor is written once.
func (j *job) totalWork() int64 {
	var total int64
	for _, gr := range j.plan.Groups {
		for _, i := range gr.Members {
			total += int64(j.plan.Tensors[i].Info.Elements())
		}
	}
	return total + j.plan.Elements
}

// trainTables trains one table per group from samples of all its tensors (or takes it from
// the checkpoint).
func (j *job) trainTables() error {
	j.tables = make([]*format.Table, len(j.plan.Groups))
	for gi := range j.plan.Groups {
		gr := &j.plan.Groups[gi]
		var units int64
		for _, i := range gr.Members {
			units += int64(j.plan.Tensors[i].Info.Elements())
		}
		j.ev.Step("train "+gr.Name, units)
		if j.ck != nil {
			if tb := j.ck.loadTable(gi); tb != nil && tb.Validate(gr.Name, gr.Type.MaxK()) == nil && tb.M() == gr.Type.Codebooks {
				j.tables[gi] = tb
				j.ev.EndStep("table " + gr.Name + " from " + j.ck.dir)
				continue
			}
		}
		start := time.Now()
		tb, nsamples, err := j.trainTable(gr, units)
		if err != nil {
			return err
		}
		j.tables[gi] = tb
		if j.ck != nil {
			if err := j.ck.saveTable(gi, tb); err != nil {
				return fmt.Errorf("--resume: %w", err)
			}
		}
		j.ev.EndStep(fmt.Sprintf("table %s: %s K=%d, %d tensors, %d samples, %.1fs", gr.Name, gr.Type.Name, gr.K, len(gr.Members), nsamples, time.Since(start).Seconds()))
		if err := j.ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// trainTable samples every member of gr in proportion to its size (half the step's progress),
// then trains the table on the samples (the other half).
func (j *job) trainTable(gr *GroupPlan, units int64) (*format.Table, int, error) {
	var vecs int64
	for _, i := range gr.Members {
		vecs += int64(j.plan.Tensors[i].Info.Elements()) / int64(gr.Type.V)
	}
	qo := quantOptions(j.opt, gr)
	budget := int64(quant.DefaultTrainVectors(gr.searchEntries()))
	var samples quant.Samples
	var done int64
	for _, i := range gr.Members {
		if err := j.ctx.Err(); err != nil {
			return nil, 0, err
		}
		t := &j.plan.Tensors[i].Info
		m, err := readMatrix(j.g, t)
		if err != nil {
			return nil, 0, err
		}
		nv := int64(t.Elements()) / int64(gr.Type.V)
		n := (budget*nv + vecs - 1) / vecs
		s, err := quant.Sample(m, j.importance(t), qo, int(max(n, 1)))
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", j.in, err)
		}
		samples.Append(s)
		done += int64(t.Elements()) / 2
		j.ev.Progress(done)
	}
	half := done
	tb, err := quant.Train(samples, qo, func(d, tot int64) {
		if tot > 0 {
			j.ev.Progress(half + (units-half)*d/tot)
		}
	})
	if err != nil {
		return nil, 0, fmt.Errorf("%s: table %q: %w", j.in, gr.Name, err)
	}
	tb.Sharing = gr.Sharing
	if err := tb.Validate(gr.Name, gr.Type.MaxK()); err != nil {
		return nil, 0, err
	}
	return tb, samples.Len(), nil
}

// writeTensors lays the file out (header with placeholders of the final lengths) and streams
// every tensor into it in file order; the caller writes the final header.
func (j *job) writeTensors(f *gguf.AtomicFile) (*gguf.Writer, error) {
	j.scales, j.rel = map[int][]uint16{}, map[int]float32{}
	infos := outputInfos(j.plan)
	w, err := gguf.NewWriter(f, buildKVs(j.g, j.plan, j.opt, j.tables, nil, nil), infos)
	if err != nil {
		return nil, err
	}
	j.luts = make([][]float32, len(j.tables))
	j.res = &Result{Plan: j.plan, RelRMSE: map[string]float64{}, Elements: j.plan.Elements}
	for i := range j.plan.Tensors {
		if err := j.ctx.Err(); err != nil {
			return nil, err
		}
		tp := &j.plan.Tensors[i]
		t := &tp.Info
		j.ev.Step(t.Name, int64(t.Elements()))
		var saved *tensorCheckpoint
		if j.ck != nil {
			saved = j.ck.loadTensor(i)
		}
		data, msg, err := j.encodeTensor(i, saved, int64(infos[i].Size()))
		if err != nil {
			return nil, err
		}
		if err := w.WriteTensor(i, data); err != nil {
			return nil, fmt.Errorf("writing %s: tensor %q: %w", j.out, t.Name, err)
		}
		if j.ck != nil && saved == nil && tp.Choice.PQ {
			_, hasRel := j.res.RelRMSE[t.Name]
			if err := j.ck.saveTensor(i, &tensorCheckpoint{Data: data, Scales: j.scales[i], RelRMSE: j.res.RelRMSE[t.Name], HasRel: hasRel, Msg: msg}); err != nil {
				return nil, fmt.Errorf("--resume: %w", err)
			}
		}
		j.ev.EndStep(msg)
	}
	return w, nil
}

// encodeTensor gives tensor i's bytes in the output and the line that reports them: from the
// checkpoint, copied, converted to a dense type, or compressed.
func (j *job) encodeTensor(i int, saved *tensorCheckpoint, size int64) ([]byte, string, error) {
	tp := &j.plan.Tensors[i]
	t := &tp.Info
	switch {
	case saved != nil && int64(len(saved.Data)) == size:
		if saved.Scales != nil {
			j.scales[i] = saved.Scales
		}
		if saved.HasRel {
			j.rel[i] = float32(saved.RelRMSE)
			j.res.RelRMSE[t.Name] = saved.RelRMSE
		}
		return saved.Data, saved.Msg + " (from " + j.ck.dir + ")", nil
	case !tp.Choice.PQ && tp.Choice.Dense == t.Type:
		data, err := j.g.ReadTensor(t)
		return data, "copied " + gguf.TypeName(t.Type), err
	case !tp.Choice.PQ:
		x, err := j.g.ReadTensorF32(t)
		if err != nil {
			return nil, "", err
		}
		data, err := gguf.FromFloat32(tp.Choice.Dense, x)
		if err != nil {
			return nil, "", fmt.Errorf("%s: tensor %q: %w", j.in, t.Name, err)
		}
		return data, gguf.TypeName(t.Type) + " → " + gguf.TypeName(tp.Choice.Dense), nil
	}
	return j.compressTensor(i)
}

// compressTensor assigns tensor i's sub-vectors to its table (GPTQ error feedback when its
// input covariance is known, else importance-weighted) and packs the indices.
func (j *job) compressTensor(i int) ([]byte, string, error) {
	tp := &j.plan.Tensors[i]
	t := &tp.Info
	gr := &j.plan.Groups[tp.Group]
	if j.luts[tp.Group] == nil {
		j.luts[tp.Group] = format.IndexLUT(j.tables[tp.Group], gr.Type)
	}
	m, err := readMatrix(j.g, t)
	if err != nil {
		return nil, "", err
	}
	prog := func(d, tot int64) { j.ev.Progress(int64(t.Elements()) * d / max(tot, 1)) }
	var a *quant.Assignment
	how := ""
	if hess := j.opt.InputCovariance[t.Name]; len(hess) == m.Cols*m.Cols {
		a, err = quant.AssignGPTQ(j.tables[tp.Group], j.luts[tp.Group], m, hess, quantOptions(j.opt, gr), prog)
		how = ", gptq"
	} else {
		a, err = quant.Assign(j.tables[tp.Group], j.luts[tp.Group], m, j.importance(t), quantOptions(j.opt, gr), prog)
	}
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", j.in, err)
	}
	if err := checkIndices(t.Name, gr.Type, gr.K, a.Indices); err != nil {
		return nil, "", err
	}
	data := make([]byte, gr.Type.RowBytes(int(t.Cols()))*int(t.Rows()))
	format.PackTensor(gr.Type, format.SliceRows(t), int(t.Cols()), a.Indices, data)
	if tp.RowScale {
		s := make([]uint16, len(a.Scales))
		for r, x := range a.Scales {
			s[r] = gguf.FloatToHalf(x) // quant's scales are f16-rounded already
		}
		j.scales[i] = s
	}
	j.rel[i] = float32(a.RelRMSE)
	j.res.RelRMSE[t.Name] = a.RelRMSE
	return data, fmt.Sprintf("%s via %s%s, rel_rmse %.4f", gr.Type.Name, gr.Name, how, a.RelRMSE), nil
}
