package format

import (
	"fmt"
	"math"

	"github.com/pocketgguf/pocketgguf/gguf"
)

// Tensor is a PQ tensor of a PocketGGUF with what rebuilds it.
type Tensor struct {
	Info    *gguf.TensorInfo
	Type    PQType
	Table   string
	Scales  []float32 // nil = 1
	RelRMSE float64   // NaN when absent
}

// Read validates the pocket.* keys of g (docs/FORMAT.md, "Validation")
// and returns its tables and PQ tensors. A file without PQ tensors yields none.
func Read(g *gguf.File) (map[string]*Table, map[string]*Tensor, error) {
	tables := map[string]*Table{}
	tensors := map[string]*Tensor{}
	hasPQ := false
	for i := range g.Tensors {
		if _, ok := LookupPQ(g.Tensors[i].Type); ok {
			hasPQ = true
		}
	}
	if !hasPQ {
		return tables, tensors, nil
	}
	v, ok := g.KV(KeyVersion)
	ver, isInt := v.Uint()
	if !ok || !isInt || !KnownVersion(ver) {
		return nil, nil, fmt.Errorf("%s: %s is %v, this reader knows versions %d and %d", g.Path, KeyVersion, v.V, Version, VersionAdditive)
	}
	u32 := func(key string) (int, error) {
		v, ok := g.KV(key)
		x, isInt := v.Uint()
		if !ok || !isInt || x > 1<<20 {
			return 0, fmt.Errorf("%s: key %s missing or not a small integer", g.Path, key)
		}
		return int(x), nil
	}
	for i := range g.Tensors {
		t := &g.Tensors[i]
		ty, ok := LookupPQ(t.Type)
		if !ok {
			continue
		}
		if int(t.Cols())%ty.BlockSize() != 0 {
			return nil, nil, fmt.Errorf("%s: tensor %q: row length %d not a multiple of %s's block %d", g.Path, t.Name, t.Cols(), ty.Name, ty.BlockSize())
		}
		pt := &Tensor{Info: t, Type: ty, RelRMSE: math.NaN()}
		pt.Table = g.KVString(KeyTensorTable(t.Name))
		if pt.Table == "" {
			return nil, nil, fmt.Errorf("%s: tensor %q: no %s", g.Path, t.Name, KeyTensorTable(t.Name))
		}
		if sv, ok := g.KV(KeyTensorScale(t.Name)); ok {
			s, ok := sv.Float32s()
			if !ok || len(s) != int(t.Rows()) {
				return nil, nil, fmt.Errorf("%s: %s: want %d f32 or f16 values", g.Path, KeyTensorScale(t.Name), t.Rows())
			}
			if r := FirstNonFinite(s); r >= 0 {
				return nil, nil, fmt.Errorf("%s: tensor %q: scale of row %d is %v", g.Path, t.Name, r, s[r])
			}
			pt.Scales = s
		}
		if rv, ok := g.KV(KeyTensorRelRMSE(t.Name)); ok {
			if x, ok := rv.Float(); ok {
				pt.RelRMSE = x
			}
		}
		tb, ok := tables[pt.Table]
		if !ok {
			n := pt.Table
			tb = &Table{}
			var err error
			for _, f := range []struct {
				key string
				dst *int
			}{{KeyTableV(n), &tb.V}, {KeyTableK(n), &tb.K}, {KeyTableLatent(n), &tb.Latent},
				{KeyTableDecoderBlocks(n), &tb.Blocks}, {KeyTableDecoderHidden(n), &tb.Hidden}} {
				if *f.dst, err = u32(f.key); err != nil {
					return nil, nil, fmt.Errorf("tensor %q: %w", t.Name, err)
				}
			}
			cv, _ := g.KV(KeyTableCodebook(n))
			if tb.Codebook, ok = cv.Float32s(); !ok {
				return nil, nil, fmt.Errorf("%s: table %q: %s missing or not f32/u16", g.Path, n, KeyTableCodebook(n))
			}
			dv, _ := g.KV(KeyTableDecoder(n))
			if tb.Decoder, ok = dv.Float32s(); !ok {
				return nil, nil, fmt.Errorf("%s: table %q: %s missing or not f32", g.Path, n, KeyTableDecoder(n))
			}
			tb.Sharing = g.KVString(KeyTableSharing(n))
			if _, ok := g.KV(KeyTableCodebooks(n)); ok {
				if tb.Codebooks, err = u32(KeyTableCodebooks(n)); err != nil {
					return nil, nil, fmt.Errorf("tensor %q: %w", t.Name, err)
				}
				if tb.Codebooks == 0 {
					return nil, nil, fmt.Errorf("%s: table %q: %s is 0 (want 1..4)", g.Path, n, KeyTableCodebooks(n))
				}
				if ver < VersionAdditive && tb.Codebooks > 1 {
					return nil, nil, fmt.Errorf("%s: table %q has %s = %d in a version %d file (additive tables need version %d)", g.Path, n, KeyTableCodebooks(n), tb.Codebooks, ver, VersionAdditive)
				}
			}
			if tb.M() != ty.Codebooks { // before Validate: the codebook length depends on it
				return nil, nil, codebooksMismatch(g.Path, t.Name, ty, n, tb)
			}
			if err := tb.Validate(n, 1<<16); err != nil {
				return nil, nil, fmt.Errorf("%s: tensor %q: %w", g.Path, t.Name, err)
			}
			tables[n] = tb
		}
		if tb.V != ty.V || tb.K > ty.MaxK() {
			return nil, nil, fmt.Errorf("%s: tensor %q is %s but table %q has v=%d, K=%d", g.Path, t.Name, ty.Name, pt.Table, tb.V, tb.K)
		}
		if tb.M() != ty.Codebooks {
			return nil, nil, codebooksMismatch(g.Path, t.Name, ty, pt.Table, tb)
		}
		if ty.Additive() && ver < VersionAdditive {
			return nil, nil, fmt.Errorf("%s: tensor %q is %s, which needs %s %d, not %d", g.Path, t.Name, ty.Name, KeyVersion, VersionAdditive, ver)
		}
		tensors[t.Name] = pt
	}
	return tables, tensors, nil
}

func codebooksMismatch(path, tensor string, ty PQType, table string, tb *Table) error {
	return fmt.Errorf("%s: tensor %q is %s (%d codebooks) but table %q has %s = %d (absent means 1)", path, tensor, ty.Name, ty.Codebooks, table, KeyTableCodebooks(table), tb.M())
}

// Indices returns the tensor's indices, row-major (product indices for
// additive types, which read IndexLUT's sums).
func (pt *Tensor) Indices(raw []byte) []uint32 {
	rows, cols := int(pt.Info.Rows()), int(pt.Info.Cols())
	idx := make([]uint32, rows*(cols/pt.Type.V))
	UnpackTensor(pt.Type, SliceRows(pt.Info), cols, raw, idx)
	return idx
}

// LUT is the table the tensor's Indices read (ProductLUT for additive types).
func (pt *Tensor) LUT(tb *Table) []float32 { return IndexLUT(tb, pt.Type) }

// Decode rebuilds a PQ tensor's weights from its indices (raw data) and the
// table's LUT (pt.LUT): scale[r]·LUT[index], the FORMAT.md rule.
func (pt *Tensor) Decode(raw []byte, lut []float32) []float32 {
	return Decode(pt.Indices(raw), pt.Scales, lut, int(pt.Info.Rows()), int(pt.Info.Cols()), pt.Type.V)
}
