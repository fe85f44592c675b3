package eval

import (
	"encoding/binary"
	"fmt"
	"math"
	"regexp"

	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/gguf"
	"github.com/pocketgguf/pocketgguf/quant"
)

// FakeQuantizeSize writes a copy of the F32 GGUF in whose tensors matching
// pat are replaced by their PQ reconstruction (one table per tensor, trained
// with opt) and stored back as F32, everything else untouched. Evaluating
// such a file against the original measures how much KLD that tensor kind
// alone costs at that precision: the sensitivity the converter's bit
// allocator needs. Returns the relative RMS error of each replaced tensor
// and the size in bytes the input would have as a PocketGGUF with the
// replaced tensors stored as PQ (indices of 8, 12 or 16 bits per v weights,
// a per-tensor table of K·v f16 values, f16 row scales) and everything else
// as it is: the whole-file size the measured quality corresponds to.
func FakeQuantizeSize(in, out string, pat *regexp.Regexp, opt quant.Options) (map[string]float64, int64, error) {
	g, err := gguf.Open(in)
	if err != nil {
		return nil, 0, err
	}
	defer g.Close()
	matched := false
	for i := range g.Tensors {
		matched = matched || (pat.MatchString(g.Tensors[i].Name) && len(g.Tensors[i].Shape) == 2)
	}
	if !matched {
		return nil, 0, fmt.Errorf("%s: no 2-D tensor matches %q", in, pat)
	}
	errs := map[string]float64{}
	size := g.Size
	err = gguf.Rewrite(g, out, g.KVs, func(i int) ([]byte, error) {
		t := &g.Tensors[i]
		if !pat.MatchString(t.Name) || len(t.Shape) != 2 {
			return nil, nil // copied
		}
		if t.Type != gguf.TypeF32 {
			return nil, fmt.Errorf("%s: tensor %s is %s, want f32", in, t.Name, gguf.TypeName(t.Type))
		}
		data, err := g.ReadTensor(t)
		if err != nil {
			return nil, err
		}
		if data, errs[t.Name], err = reconstruct(t, data, opt); err != nil {
			return nil, err
		}
		size += pqBytes(t, opt) - int64(len(data))
		return data, nil
	})
	if err != nil {
		return nil, 0, err
	}
	return errs, size, nil
}

// pqBytes is what tensor t would take as PQ under opt (FakeQuantizeSize),
// with the index widths format v1 has (8, 12 or 16 bits).
func pqBytes(t *gguf.TensorInfo, opt quant.Options) int64 {
	bits := int64(8)
	for bits < 16 && 1<<bits < opt.K {
		bits += 4
	}
	n := int64(t.Elements())
	b := (n/int64(opt.V)*bits + 7) / 8
	b += int64(opt.K*opt.V) * 2
	if opt.RowScale {
		b += int64(t.Rows()) * 2
	}
	return b
}

// reconstruct trains a table for one tensor, assigns every sub-vector and
// rebuilds W[r, j·v+t] = scale[r]·LUT[idx][t] (docs/FORMAT.md).
func reconstruct(t *gguf.TensorInfo, raw []byte, opt quant.Options) ([]byte, float64, error) {
	m := quant.Matrix{Name: t.Name, Rows: int(t.Rows()), Cols: int(t.Cols()), Data: make([]float32, t.Elements())}
	for i := range m.Data {
		m.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	s, err := quant.Sample(m, nil, opt, 0)
	if err != nil {
		return nil, 0, err
	}
	k := min(opt.K, s.Len())
	o := opt
	o.K = k
	tb, err := quant.Train(s, o, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("tensor %s: %w", t.Name, err)
	}
	lut := tb.BuildLUT(tb.K)
	a, err := quant.Assign(tb, lut, m, nil, o, nil)
	if err != nil {
		return nil, 0, err
	}
	w := format.Decode(a.Indices, a.Scales, lut, m.Rows, m.Cols, tb.V)
	out, err := gguf.FromFloat32(gguf.TypeF32, w)
	if err != nil {
		return nil, 0, err
	}
	return out, a.RelRMSE, nil
}
