package finetune

import (
	"fmt"
	"math"
	"slices"

	"github.com/pocketgguf/pocketgguf/bridge"
	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/gguf"
)

// pqTable is one table's trainable codebook. Only decoder-free tables
// (B = 0: LUT = Wo·c + co) are trained; a decoder would need its own backward
// pass, and the default k-means method never writes one.
//
// An additive table's lut is its product LUT (16^M sums, format.ProductLUT)
// and tensors hold product indices, so rebuilding and the index step work as
// for a plain table; the gradient of a sum reaches each of its M entries.
type pqTable struct {
	name  string
	tb    *format.Table
	lut   []float32 // rows x V (K, or 16^M for additive), rebuilt from the codebook after each step
	gLUT  []float32
	gCode []float32
	valid []uint32 // additive: the product indices whose codes are all < K
	train bool
}

// newPQTable sets up a table's buffers and first LUT.
func newPQTable(n string, tb *format.Table) *pqTable {
	rows := tb.K
	if tb.Additive() {
		rows = 1 << (4 * tb.M())
	}
	pt := &pqTable{name: n, tb: tb, train: tb.Blocks == 0, gLUT: make([]float32, rows*tb.V), gCode: make([]float32, tb.M()*tb.K*tb.Latent)}
	if tb.Additive() {
		for p := 0; p < rows; p++ {
			if validCodes(uint32(p), tb.M(), tb.K) {
				pt.valid = append(pt.valid, uint32(p))
			}
		}
	}
	pt.refresh()
	return pt
}

// refresh rebuilds the LUT from the codebook.
func (pt *pqTable) refresh() {
	if pt.tb.Additive() {
		pt.lut = pt.tb.ProductLUT()
	} else {
		pt.lut = pt.tb.BuildLUT(pt.tb.K)
	}
}

// validCodes reports whether every 4-bit code of product index p is < k.
func validCodes(p uint32, m, k int) bool {
	for i := 0; i < m; i++ {
		if int(p>>(4*i)&0x0F) >= k {
			return false
		}
	}
	return true
}

// pqTensor rebuilds one PQ weight from its fixed indices, its table and its
// (trainable) row scales: W[r, j·v+t] = scale[r] · LUT[idx[r, j]][t].
type pqTensor struct {
	name       string
	ty         format.PQType
	rows, cols int
	v          int
	idx        []uint32
	shadow     []float32 // continuous weights the indices follow (Options.CodeLR > 0)
	table      *pqTable
	scales     []float32 // nil when the file has none (then 1, not trained)
	gScales    []float32
	dense      []float32 // the slice of the model's Weights it is materialized into; nil in a lean model
}

// pqModel is what fine-tuning may change in a PocketGGUF: codebooks, row
// scales and f32 norm weights; everything else is fixed.
//
// A dense model (loadPQModel, the Go engine's) holds the whole model as f32
// Weights with every PQ weight materialized; a lean one (loadPQModelLean, the
// ggml engine's, where the trainer rebuilds PQ weights itself) holds no
// Weights: only the trained norms, and the file to read the other tensors
// from when the trainer is set up.
type pqModel struct {
	w       *Weights // nil when lean
	src     *gguf.File
	sizes   map[string]int // number of values of each Llama tensor (weightSizes)
	tied    bool           // no output.weight: the head is the embedding
	tables  []*pqTable
	tensors []*pqTensor
	norms   []string             // f32 1-D tensors that are trained
	normW   map[string][]float32 // their values (in w when dense)
}

// loadPQModel reads a PocketGGUF into dense weights plus its PQ structure.
func loadPQModel(g *gguf.File, c Config) (*pqModel, error) { return readPQModel(g, c, true) }

// loadPQModelLean reads a PocketGGUF's PQ structure and trained norms only.
func loadPQModelLean(g *gguf.File, c Config) (*pqModel, error) { return readPQModel(g, c, false) }

func readPQModel(g *gguf.File, c Config, dense bool) (*pqModel, error) {
	tables, tensors, err := format.Read(g)
	if err != nil {
		return nil, err
	}
	tied := !HasOutput(g)
	m := &pqModel{src: g, sizes: weightSizes(c, tied), tied: tied, normW: map[string][]float32{}}
	var named map[string][]float32
	if dense {
		m.w = NewWeights(c, tied)
		named = m.w.Named()
		if err := m.w.Load(g, func(n string) bool { return tensors[n] != nil }); err != nil {
			return nil, err
		}
	} else {
		if err := checkTensors(g, m.sizes, tied, func(n string) bool { return tensors[n] != nil }); err != nil {
			return nil, err
		}
	}
	byName := map[string]*pqTable{}
	for _, n := range sortedKeys(tables) {
		tb := tables[n]
		pt := newPQTable(n, tb)
		byName[n] = pt
		m.tables = append(m.tables, pt)
	}
	for _, n := range sortedKeys(tensors) {
		src := tensors[n]
		size, ok := m.sizes[n]
		if !ok {
			return nil, fmt.Errorf("%s: PQ tensor %q is not a Llama weight fine-tuning knows", g.Path, n)
		}
		rows, cols := int(src.Info.Rows()), int(src.Info.Cols())
		if rows*cols != size {
			return nil, fmt.Errorf("%s: tensor %q has %d values, want %d", g.Path, n, rows*cols, size)
		}
		raw, err := g.ReadTensor(src.Info)
		if err != nil {
			return nil, err
		}
		t := &pqTensor{name: n, ty: src.Type, rows: rows, cols: cols, v: src.Type.V, table: byName[src.Table], dense: named[n]}
		t.idx = src.Indices(raw)
		for j, id := range t.idx {
			if src.Type.Additive() {
				if !validCodes(id, src.Type.Codebooks, t.table.tb.K) {
					return nil, fmt.Errorf("%s: tensor %q: sub-vector %d has a code >= K = %d", g.Path, n, j, t.table.tb.K)
				}
			} else if int(id) >= t.table.tb.K {
				return nil, fmt.Errorf("%s: tensor %q: index %d >= K = %d", g.Path, n, id, t.table.tb.K)
			}
		}
		if src.Scales != nil {
			t.scales = append([]float32(nil), src.Scales...)
			t.gScales = make([]float32, rows)
		}
		m.tensors = append(m.tensors, t)
	}
	for _, n := range sortedKeys(m.sizes) {
		ti, ok := g.Tensor(n)
		if !ok || len(ti.Shape) != 1 || ti.Type != gguf.TypeF32 {
			continue
		}
		m.norms = append(m.norms, n)
		if dense {
			m.normW[n] = named[n]
		} else if m.normW[n], err = g.ReadTensorF32(ti); err != nil {
			return nil, err
		}
	}
	m.materialize()
	return m, nil
}

// fixed is the f32 value of a tensor that fine-tuning does not change (the
// embedding, a head kept in its own type): the dense model's, or read from
// the file for a lean one.
func (m *pqModel) fixed(n string) ([]float32, error) {
	if m.w != nil {
		return m.w.Named()[n], nil
	}
	t, ok, err := lookTensor(m.src, n, m.sizes[n], m.tied)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s: tensor %q missing", m.src.Path, n)
	}
	return m.src.ReadTensorF32(t)
}

// materialize rebuilds every PQ weight that has a dense slice from the
// current tables and scales.
func (m *pqModel) materialize() {
	for _, t := range m.tensors {
		if t.dense != nil {
			t.rebuild(t.dense)
		}
	}
}

// rebuild writes the weight the tensor's indices, table and scales make
// into dst (rows·cols values): the FORMAT.md decode rule.
func (t *pqTensor) rebuild(dst []float32) { t.decode(t.idx, dst) }

// decode is rebuild from the indices idx.
func (t *pqTensor) decode(idx []uint32, dst []float32) {
	per, v, lut := t.cols/t.v, t.v, t.table.lut
	for r := 0; r < t.rows; r++ {
		s := float32(1)
		if t.scales != nil {
			s = t.scales[r]
		}
		row := dst[r*t.cols : (r+1)*t.cols]
		for j, id := range idx[r*per : (r+1)*per] {
			e := lut[int(id)*v : int(id)*v+v]
			for k := range e {
				row[j*v+k] = s * e[k]
			}
		}
	}
}

// dropIndices frees the indices of a lean model whose indices stay fixed
// once the trainer holds its own copy: write reads them from the file again
// (indices) and copies the tensors' data unchanged (packed).
func (m *pqModel) dropIndices() {
	for _, t := range m.tensors {
		if t.shadow == nil {
			t.idx = nil
		}
	}
}

// indices are t's indices: its own, or read from the file again when dropped.
func (m *pqModel) indices(t *pqTensor) ([]uint32, error) {
	if t.idx != nil {
		return t.idx, nil
	}
	ti, ok := m.src.Tensor(t.name)
	if !ok {
		return nil, fmt.Errorf("%s: tensor %q missing", m.src.Path, t.name)
	}
	pt := &format.Tensor{Info: ti, Type: t.ty}
	raw, err := m.src.ReadTensor(ti)
	if err != nil {
		return nil, err
	}
	return pt.Indices(raw), nil
}

// initShadow starts the tensor's straight-through shadow weights at the
// weight it rebuilds now.
func (t *pqTensor) initShadow() {
	t.shadow = make([]float32, t.rows*t.cols)
	t.rebuild(t.shadow)
}

// resetShadows restarts every moving tensor's shadow weights at the weight
// it rebuilds now, as initShadow did at the start of the run.
func (m *pqModel) resetShadows() {
	for _, t := range m.tensors {
		if t.shadow != nil {
			t.rebuild(t.shadow)
		}
	}
}

// pullGradients turns the dense gradients g into gradients of the codebooks
// and scales (the chain rule through the lookup above).
func (m *pqModel) pullGradients(g *Weights) {
	named := g.Named()
	for _, tb := range m.tables {
		clear(tb.gLUT)
	}
	for _, t := range m.tensors {
		gw, per, v := named[t.name], t.cols/t.v, t.v
		lut, gl := t.table.lut, t.table.gLUT
		for r := 0; r < t.rows; r++ {
			s := float32(1)
			if t.scales != nil {
				s = t.scales[r]
			}
			grow := gw[r*t.cols : (r+1)*t.cols]
			var gs float32
			for j, id := range t.idx[r*per : (r+1)*per] {
				e, ge, gv := lut[int(id)*v:int(id)*v+v], gl[int(id)*v:int(id)*v+v], grow[j*v:j*v+v]
				for k := range gv {
					ge[k] += s * gv[k]
					gs += gv[k] * e[k]
				}
			}
			if t.scales != nil {
				t.gScales[r] = gs
			}
		}
	}
	m.codebookGrads()
}

// codebookGrads turns each trained table's LUT gradient into its codebook's: an additive sum's
// gradient reaches each of its M entries, and LUT_k = Wo·c_k + co gives ∂c_k = Woᵀ·∂LUT_k.
// Both engines end their backward pass here.
func (m *pqModel) codebookGrads() {
	for _, tb := range m.tables {
		if !tb.train {
			continue
		}
		d, v, K := tb.tb.Latent, tb.tb.V, tb.tb.K
		gEntry := tb.gLUT // plain: one row per entry
		if tb.tb.Additive() {
			M := tb.tb.M()
			gEntry = make([]float32, M*K*v)
			for _, p := range tb.valid {
				g := tb.gLUT[int(p)*v : int(p)*v+v]
				for mm := 0; mm < M; mm++ {
					axpy(1, g, gEntry[(mm*K+int(p>>(4*mm)&0x0F))*v:][:v])
				}
			}
		}
		wo := tb.tb.Decoder[:v*d]
		for k := 0; k < tb.tb.M()*K; k++ {
			gc := tb.gCode[k*d : (k+1)*d]
			clear(gc)
			for i := 0; i < v; i++ {
				axpy(gEntry[k*v+i], wo[i*d:(i+1)*d], gc)
			}
		}
	}
}

// refreshLUTs rebuilds each trained table's LUT from its codebook.
func (m *pqModel) refreshLUTs() {
	for _, tb := range m.tables {
		if tb.train {
			tb.refresh()
		}
	}
}

// roundToStored rounds what the file stores as f16 (codebooks, scales) to
// f16, so that the loss measured is the loss of the file that is written.
func (m *pqModel) roundToStored(stored storedAs) {
	r := func(xs []float32) {
		for i, x := range xs {
			xs[i] = gguf.HalfToFloat(gguf.FloatToHalf(x))
		}
	}
	for _, tb := range m.tables {
		if tb.train && stored.halfCodebook[tb.name] {
			r(tb.tb.Codebook)
		}
	}
	for _, t := range m.tensors {
		if t.scales != nil && stored.halfScales[t.name] {
			r(t.scales)
		}
	}
	m.refreshLUTs()
	m.materialize()
}

// relRMSE is sqrt(Σ(W−Ŵ)²/ΣW²) of a PQ tensor against the original weights.
func relRMSE(orig, got []float32) float32 {
	var num, den float64
	for i, x := range orig {
		d := float64(x - got[i])
		num += d * d
		den += float64(x) * float64(x)
	}
	if den == 0 {
		return 0
	}
	return float32(math.Sqrt(num / den))
}

// state is a copy of what training changes.
type state struct {
	params [][]float32
	idx    [][]uint32 // nil for a tensor whose indices do not move
}

func (m *pqModel) snapshot() state {
	var s state
	for _, x := range m.trainable() {
		s.params = append(s.params, slices.Clone(x))
	}
	for _, t := range m.tensors {
		var idx []uint32
		if t.shadow != nil { // indices move only with shadow weights
			idx = slices.Clone(t.idx)
		}
		s.idx = append(s.idx, idx)
	}
	return s
}

func (m *pqModel) restore(s state) {
	for i, x := range m.trainable() {
		copy(x, s.params[i])
	}
	for i, t := range m.tensors {
		if s.idx[i] != nil {
			copy(t.idx, s.idx[i])
		}
	}
	m.refreshLUTs()
	m.materialize()
}

// reassign points every sub-vector at the LUT entry nearest its shadow
// weights (divided by the row scale): the discrete step of straight-through
// training, so that indices move once the gradient has pushed a weight past
// the midpoint between two entries. Ties keep the lowest index. In C with
// SIMD (bridge.Nearest, the same choices as the Go loop it replaced): a
// pqa_*x12 table offers 4096 candidate sums per sub-vector.
func (t *pqTensor) reassign() {
	lut := t.table.lut[:t.table.tb.K*t.v]
	if t.table.valid != nil { // additive: the candidate sums, in index order
		lut = t.table.lut
	}
	if err := bridge.Nearest(lut, t.v, t.table.valid, t.shadow, t.rows, t.cols, t.scales, t.idx); err != nil {
		panic(fmt.Sprintf("finetune: %s: %v", t.name, err)) // shapes were checked when the file was read
	}
}

// packed is the tensor's data: its indices in the type's layout (2-D
// weights: one slice of all rows); nil when they were dropped unchanged.
func (t *pqTensor) packed() []byte {
	if t.idx == nil {
		return nil
	}
	out := make([]byte, t.rows*t.ty.RowBytes(t.cols))
	format.PackTensor(t.ty, t.rows, t.cols, t.idx, out)
	return out
}

// trainable lists the parameter slices in a fixed order.
func (m *pqModel) trainable() [][]float32 {
	var xs [][]float32
	for _, tb := range m.tables {
		if tb.train {
			xs = append(xs, tb.tb.Codebook)
		}
	}
	for _, t := range m.tensors {
		if t.scales != nil {
			xs = append(xs, t.scales)
		}
	}
	for _, n := range m.norms {
		xs = append(xs, m.normW[n])
	}
	return xs
}
