package eval

import (
	"encoding/binary"
	"fmt"
	"math"
	"regexp"

	"github.com/pocketgguf/pocketgguf/gguf"
	"github.com/pocketgguf/pocketgguf/quant"
)

// FakeQuantize writes a copy of the F32 GGUF in whose tensors matching pat
// are replaced by their PQ reconstruction (one table per tensor, trained with
// opt) and stored back as F32, everything else untouched. Evaluating such a
// file against the original measures how much KLD that tensor kind alone
// costs at that precision: the sensitivity the converter's bit allocator
// needs. Returns the relative RMS error of each replaced tensor.
func FakeQuantize(in, out string, pat *regexp.Regexp, opt quant.Options) (map[string]float64, error) {
	g, err := gguf.Open(in)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	af, err := gguf.CreateAtomic(out)
	if err != nil {
		return nil, err
	}
	defer af.Abort()
	wr, err := gguf.NewWriter(af, g.KVs, g.Tensors)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", out, err)
	}
	errs := map[string]float64{}
	for i := range g.Tensors {
		t := &g.Tensors[i]
		data, err := g.ReadTensor(t)
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %s: %w", in, t.Name, err)
		}
		if pat.MatchString(t.Name) && len(t.Shape) == 2 {
			if t.Type != gguf.TypeF32 {
				return nil, fmt.Errorf("%s: tensor %s is %s, want f32", in, t.Name, gguf.TypeName(t.Type))
			}
			if data, errs[t.Name], err = reconstruct(t, data, opt); err != nil {
				return nil, err
			}
		}
		if err := wr.WriteTensor(i, data); err != nil {
			return nil, fmt.Errorf("%s: %w", out, err)
		}
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("%s: no 2-D tensor matches %q", in, pat)
	}
	if err := wr.Finish(g.KVs); err != nil {
		return nil, fmt.Errorf("%s: %w", out, err)
	}
	return errs, af.Commit()
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
	v, per := tb.V, m.Cols/tb.V
	out := make([]byte, len(raw))
	for r := 0; r < m.Rows; r++ {
		sc := float32(1)
		if a.Scales != nil {
			sc = a.Scales[r]
		}
		for j := 0; j < per; j++ {
			e := lut[int(a.Indices[r*per+j])*v:]
			for x := 0; x < v; x++ {
				binary.LittleEndian.PutUint32(out[4*(r*m.Cols+j*v+x):], math.Float32bits(sc*e[x]))
			}
		}
	}
	return out, a.RelRMSE, nil
}
