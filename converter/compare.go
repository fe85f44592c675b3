package converter

import (
	"bytes"
	"fmt"
	"math"

	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/gguf"
)

// Comparison is the reconstruction error of one GGUF against a reference.
type Comparison struct {
	PerTensor map[string]float64 // relative RMS error of each tensor that differs in bytes
	Overall   float64            // sqrt(Σ(W-Ŵ)² / ΣW²) over those tensors
	Weights   int64              // weights in those tensors
}

// Compare measures how far the weights of path are from those of ref (same
// tensor names and shapes). PQ tensors are rebuilt through the LUT, so this
// works on a PocketGGUF as well as on its unpacked form.
func Compare(ref, path string) (*Comparison, error) {
	a, err := gguf.Open(ref)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	b, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	tables, pts, err := format.Read(b)
	if err != nil {
		return nil, err
	}
	luts := map[string][]float32{}
	c := &Comparison{PerTensor: map[string]float64{}}
	var num, den float64
	for i := range a.Tensors {
		ta := &a.Tensors[i]
		tb, ok := b.Tensor(ta.Name)
		if !ok {
			return nil, fmt.Errorf("%s: no tensor %q (in %s)", path, ta.Name, ref)
		}
		if fmt.Sprint(ta.Shape) != fmt.Sprint(tb.Shape) {
			return nil, fmt.Errorf("tensor %q: shape %v in %s, %v in %s", ta.Name, ta.Shape, ref, tb.Shape, path)
		}
		if ta.Type == tb.Type {
			ra, err := a.ReadTensor(ta)
			if err != nil {
				return nil, err
			}
			rb, err := b.ReadTensor(tb)
			if err != nil {
				return nil, err
			}
			if bytes.Equal(ra, rb) {
				continue // identical bytes: not a changed tensor
			}
		}
		xa, err := a.ReadTensorF32(ta)
		if err != nil {
			return nil, err
		}
		var xb []float32
		if pt := pts[ta.Name]; pt != nil {
			raw, err := b.ReadTensor(tb)
			if err != nil {
				return nil, err
			}
			tab := tables[pt.Table]
			if luts[pt.Table] == nil {
				if tab.Additive() {
					luts[pt.Table] = pt.LUT(tab)
				} else {
					luts[pt.Table] = tab.BuildLUT(maxK(pts, pt.Table))
				}
			}
			xb = pt.Decode(raw, luts[pt.Table])
		} else if xb, err = b.ReadTensorF32(tb); err != nil {
			return nil, err
		}
		var n, d float64
		for j := range xa {
			e := float64(xa[j] - xb[j])
			n += e * e
			d += float64(xa[j]) * float64(xa[j])
		}
		c.PerTensor[ta.Name] = math.Sqrt(n / math.Max(d, 1e-30))
		num += n
		den += d
		c.Weights += int64(ta.Elements())
	}
	if den > 0 {
		c.Overall = math.Sqrt(num / den)
	}
	return c, nil
}

// maxK is the largest index range among the tensors using a table.
func maxK(pts map[string]*format.Tensor, table string) int {
	k := 0
	for _, pt := range pts {
		if pt.Table == table {
			k = max(k, pt.Type.MaxK())
		}
	}
	return max(k, format.PQTypes[0].MaxK())
}
