package quant

import (
	"fmt"

	"github.com/pocketgguf/pocketgguf/format"
)

// Assignment is the result of Assign for one tensor.
type Assignment struct {
	Indices []uint32  // Rows * Cols/V, row-major
	Scales  []float32 // one per row, f16-rounded; nil unless opt.RowScale
	RelRMSE float64   // sqrt(Σ(W-Ŵ)² / ΣW²), unweighted
}

// assignRows is the fixed work unit of Assign.
const assignRows = 16

// Assign picks, for every sub-vector of m, the LUT entry minimising the
// importance-weighted squared error in weight space (exact search), then, with
// opt.RowScale, refits each row's scale by weighted least squares, rounds it
// to f16 and keeps it if it lowers the row's weighted error. lut may be nil
// (then tb.BuildLUT(tb.K) is used); otherwise it holds at least K*V values.
// opt.V and opt.K may be zero: the table's are used.
func Assign(tb *format.Table, lut []float32, m Matrix, importance []float32, opt Options, progress Progress) (*Assignment, error) {
	pre, err := prepareAssign(tb, lut, m, importance, opt)
	if err != nil {
		return nil, err
	}
	err = pre.run(m, progress, func() func(r int) error {
		sc := newRowScratch(m.Cols, pre.v)
		return func(r int) error { return assignRow(pre, sc, m, r) }
	})
	if err != nil {
		return nil, err
	}
	return pre.a, nil
}

// run assigns every row of m with the row functions newWorker makes (one per
// work chunk, so each may own scratch buffers), in fixed chunks over
// o.Threads, then sets the assignment's unweighted RelRMSE, reduced in chunk
// order. The first row error is returned, naming the tensor.
func (pre *assignSetup) run(m Matrix, progress Progress, newWorker func() func(r int) error) error {
	a, per := pre.a, m.Cols/pre.v
	nc := numChunks(m.Rows, assignRows)
	errSum := make([]float64, nc)
	refSum := make([]float64, nc)
	rowErr := make([]error, nc)
	report := newReporter(progress, int64(m.Rows))
	forChunks(m.Rows, assignRows, pre.o.Threads, func(c, lo, hi int) {
		assign := newWorker()
		for r := lo; r < hi; r++ {
			if rowErr[c] = assign(r); rowErr[c] != nil {
				return
			}
			e, ref := rowError(pre.lut, pre.v, m.Data[r*m.Cols:(r+1)*m.Cols], a.Indices[r*per:(r+1)*per], scaleOf(a.Scales, r))
			errSum[c] += e
			refSum[c] += ref
		}
		report.add(int64(hi - lo))
	})
	for _, err := range rowErr {
		if err != nil {
			return fmt.Errorf("tensor %q: %v", m.Name, err)
		}
	}
	a.RelRMSE = sumsRelRMSE(errSum, refSum)
	return nil
}

// assignSetup is what Assign and AssignGPTQ check and build before assigning.
// The search runs over sr's entries 0..k-1; stored maps one to the index
// written (nil: the same), which reads lut. They differ only for additive
// tables with K < 16, whose valid sums are a subset of the product LUT.
type assignSetup struct {
	o      Options
	v, k   int
	lut    []float32
	stored []uint32
	cw     []float32 // per-column importance (ones when none)
	sr     *searcher
	a      *Assignment // indices allocated, scales from RowScales when o.RowScale
}

// index is the stored index of search entry id.
func (pre *assignSetup) index(id int) uint32 {
	if pre.stored == nil {
		return uint32(id)
	}
	return pre.stored[id]
}

func prepareAssign(tb *format.Table, lut []float32, m Matrix, importance []float32, opt Options) (*assignSetup, error) {
	if tb == nil {
		return nil, fmt.Errorf("tensor %q: no table", m.Name)
	}
	if opt.V == 0 { // V and K may be left to the table
		opt.V = tb.V
	}
	if opt.K == 0 {
		opt.K = max(1, min(tb.K, 1<<16))
	}
	if opt.Codebooks == 0 {
		opt.Codebooks = tb.M()
	}
	o, err := opt.resolved()
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %v", m.Name, err)
	}
	if tb.V != o.V {
		return nil, fmt.Errorf("tensor %q: table has V=%d, options say %d", m.Name, tb.V, o.V)
	}
	if err := tb.Validate(m.Name, 1<<16); err != nil {
		return nil, err
	}
	if tb.M() != o.Codebooks {
		return nil, fmt.Errorf("tensor %q: table has %d codebooks, options say %d", m.Name, tb.M(), o.Codebooks)
	}
	v, k := tb.V, tb.K
	if tb.Additive() {
		k = 1 << (4 * tb.M()) // rows of the product LUT stored indices read
	}
	if lut == nil {
		if tb.Additive() {
			lut = tb.ProductLUT()
		} else {
			lut = tb.BuildLUT(k)
		}
	}
	if len(lut) < k*v {
		what := "K*V"
		if tb.Additive() {
			what = "16^codebooks*V (the product LUT)"
		}
		return nil, fmt.Errorf("tensor %q: LUT has %d values, want at least %s = %d", m.Name, len(lut), what, k*v)
	}
	if i := firstNonFinite(lut[:k*v]); i >= 0 {
		return nil, fmt.Errorf("tensor %q: LUT value %d is %v", m.Name, i, lut[i])
	}
	search, stored := lut, []uint32(nil)
	if tb.Additive() {
		search, stored = additiveSearch(tb, lut)
		k = len(search) / v
	}
	if err := checkMatrix(m, v); err != nil {
		return nil, err
	}
	cw, err := columnWeights(m, importance)
	if err != nil {
		return nil, err
	}
	if cw == nil {
		cw = ones(m.Cols)
	}
	a := &Assignment{Indices: make([]uint32, m.Rows*(m.Cols/v))}
	if o.RowScale {
		if a.Scales, err = RowScales(m); err != nil {
			return nil, err
		}
	}
	return &assignSetup{o: o, v: v, k: k, lut: lut, stored: stored, cw: cw, sr: newSearcher(search, k, v), a: a}, nil
}

// rowScratch is one worker's buffers for assignRow.
type rowScratch struct {
	x    []float32 // the row divided by its scale
	ids  []int32
	dist []float32
}

func newRowScratch(cols, v int) *rowScratch {
	return &rowScratch{x: make([]float32, cols), ids: make([]int32, cols/v), dist: make([]float32, cols/v)}
}

// assignRow assigns row r (sc holds scratch buffers, newRowScratch) and,
// with row scales, refits its scale.
func assignRow(pre *assignSetup, sc *rowScratch, m Matrix, r int) error {
	sr, cw, a := pre.sr, pre.cw, pre.a
	x := sc.x
	v := sr.v
	row := m.Data[r*m.Cols : (r+1)*m.Cols]
	per := m.Cols / v
	idx := a.Indices[r*per : (r+1)*per]
	s := scaleOf(a.Scales, r)
	inv := float32(0)
	if s != 0 {
		inv = 1 / s
	}
	for i, w := range row {
		x[i] = w * inv
	}
	if sr.tree != nil {
		ids, dist := sc.ids[:per], sc.dist[:per]
		sr.tree.nearestBatch(x, cw, nil, nil, ids, dist)
		for j, id := range ids {
			idx[j] = pre.index(int(id))
		}
	} else {
		for j := 0; j < per; j++ {
			id, _ := bruteNearest(sr.lut, sr.k, v, x[j*v:j*v+v], cw[j*v:j*v+v])
			idx[j] = pre.index(id)
		}
	}
	if a.Scales != nil {
		ns, err := refitScale(pre.lut, v, row, idx, cw, s)
		if err != nil {
			return fmt.Errorf("row %d: %v", r, err)
		}
		a.Scales[r] = ns
	}
	return nil
}

// refitScale returns the f16-rounded weighted least-squares scale
// Σ c·w·l / Σ c·l² for the chosen entries, or s0 when that fits worse.
func refitScale(lut []float32, v int, row []float32, idx []uint32, cw []float32, s0 float32) (float32, error) {
	var num, den float64
	for j, id := range idx {
		l := lut[int(id)*v : int(id)*v+v]
		for t := 0; t < v; t++ {
			c := float64(cw[j*v+t])
			num += c * float64(row[j*v+t]) * float64(l[t])
			den += c * float64(l[t]) * float64(l[t])
		}
	}
	if den == 0 || num <= 0 {
		return s0, nil
	}
	s1, err := roundScale(num / den)
	if err != nil {
		return 0, err
	}
	werr := func(s float32) float64 {
		var e float64
		for j, id := range idx {
			l := lut[int(id)*v : int(id)*v+v]
			for t := 0; t < v; t++ {
				d := float64(row[j*v+t]) - float64(s*l[t])
				e += float64(cw[j*v+t]) * d * d
			}
		}
		return e
	}
	if werr(s1) < werr(s0) {
		return s1, nil
	}
	return s0, nil
}
