package quant

import (
	"math"
	"sort"
)

// Exact nearest-entry search under a diagonal weighted squared distance
//   d(q, p) = Σ_t w_t (q_t - p_t)²
// with the weights given per query (imatrix weights differ per column).
// A kd-tree with the Arya–Mount incremental cell bound stays exact for any
// per-query diagonal weights: the bound of a cell is Σ_t w_t·off_t², where
// off_t is the query's distance to the cell along t. Ties go to the smallest
// entry index, as in bruteNearest, and distances are summed in the same
// order, so both give identical answers.

const kdLeafSize = 16

type kdNode struct {
	dim         int32 // split dimension, -1 for a leaf
	split       float32
	left, right int32 // children, or for a leaf the point range [left, right)
}

type kdTree struct {
	v     int
	pts   []float32 // entries reordered by the tree, n*v
	ids   []int32   // original index of each reordered entry
	nodes []kdNode
	lb    *leafBlocks // batched-search layout
}

// newKDTree builds a tree over the first k entries of lut (k*v floats).
func newKDTree(lut []float32, k, v int) *kdTree {
	t := &kdTree{v: v, ids: make([]int32, k)}
	for i := range t.ids {
		t.ids[i] = int32(i)
	}
	t.build(lut, 0, k)
	t.pts = make([]float32, k*v)
	for i, id := range t.ids {
		copy(t.pts[i*v:(i+1)*v], lut[int(id)*v:int(id)*v+v])
	}
	t.lb = t.buildBlocks()
	return t
}

func (t *kdTree) build(lut []float32, a, b int) int32 {
	n := int32(len(t.nodes))
	t.nodes = append(t.nodes, kdNode{dim: -1, left: int32(a), right: int32(b)})
	if b-a <= kdLeafSize {
		return n
	}
	v := t.v
	ids := t.ids[a:b]
	dim, spread := 0, float32(-1)
	for d := 0; d < v; d++ {
		lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
		for _, id := range ids {
			x := lut[int(id)*v+d]
			lo, hi = min(lo, x), max(hi, x)
		}
		if hi-lo > spread {
			dim, spread = d, hi-lo
		}
	}
	if spread <= 0 { // all points equal: one (large) leaf
		return n
	}
	sort.Slice(ids, func(i, j int) bool {
		xi, xj := lut[int(ids[i])*v+dim], lut[int(ids[j])*v+dim]
		return xi < xj || xi == xj && ids[i] < ids[j]
	})
	m := (a + b) / 2
	split := lut[int(t.ids[m])*v+dim]
	l := t.build(lut, a, m)
	r := t.build(lut, m, b)
	t.nodes[n] = kdNode{dim: int32(dim), split: split, left: l, right: r}
	return n
}

// kdQuery holds one goroutine's search state.
type kdQuery struct {
	t      *kdTree
	q, w   []float32
	off    [64]float64
	best   float32
	bestID int32
}

// nearest returns the index of the entry nearest to q under weights w
// (len v each) and its distance.
func (t *kdTree) nearest(s *kdQuery, q, w []float32) (int, float32) {
	return t.nearestFrom(s, q, w, -1, nil)
}

// nearestFrom is nearest with a guess (an entry index of lut, or -1) whose
// distance starts the search bound: a good guess, such as the previous
// Lloyd iteration's entry, prunes most of the tree. The answer is the same
// as without a guess.
func (t *kdTree) nearestFrom(s *kdQuery, q, w []float32, guess int, lut []float32) (int, float32) {
	s.t, s.q, s.w = t, q, w
	s.best, s.bestID = float32(math.Inf(1)), math.MaxInt32
	if guess >= 0 {
		s.best, s.bestID = wdist(q, lut[guess*t.v:guess*t.v+t.v], w), int32(guess)
	}
	for i := 0; i < t.v; i++ {
		s.off[i] = 0
	}
	s.search(0, 0)
	return int(s.bestID), s.best
}

// pruneSlack keeps the float64 cell bound conservative against the float32
// distances it is compared with.
const pruneSlack = 1 + 1e-5

func (s *kdQuery) search(n int32, rd float64) {
	nd := &s.t.nodes[n]
	if nd.dim < 0 {
		s.scanLeaf(int(nd.left), int(nd.right))
		return
	}
	dim := nd.dim
	diff := float64(s.q[dim]) - float64(nd.split)
	near, far := nd.left, nd.right
	if diff > 0 {
		near, far = far, near
	}
	s.search(near, rd)
	old := s.off[dim]
	wd := float64(s.w[dim])
	rd2 := rd + wd*(diff*diff-old*old)
	if rd2 <= float64(s.best)*pruneSlack {
		s.off[dim] = diff
		s.search(far, rd2)
		s.off[dim] = old
	}
}

// scanLeaf checks entries [a, b) with partial-distance elimination: a sum
// of non-negative float32 terms never decreases, so once it exceeds the best
// distance the entry cannot win or tie, and stopping changes no answer.
func (s *kdQuery) scanLeaf(a, b int) {
	v := s.t.v
	q, w := s.q[:v], s.w[:v]
	pts := s.t.pts[a*v : b*v]
	for i := 0; i < b-a; i++ {
		p := pts[i*v : i*v+v]
		var d float32
		h := v / 2
		for t := 0; t < h; t++ {
			e := q[t] - p[t]
			d += w[t] * e * e
		}
		if d > s.best {
			continue
		}
		for t := h; t < v; t++ {
			e := q[t] - p[t]
			d += w[t] * e * e
		}
		if d < s.best || d == s.best && s.t.ids[a+i] < s.bestID {
			s.best, s.bestID = d, s.t.ids[a+i]
		}
	}
}

// wdist is Σ_t w_t (q_t - p_t)², summed in t order in float32.
func wdist(q, p, w []float32) float32 {
	var d float32
	for t := range q {
		e := q[t] - p[t]
		d += w[t] * e * e
	}
	return d
}

// bruteNearest is the reference search: every entry, ties to the smallest index.
func bruteNearest(lut []float32, k, v int, q, w []float32) (int, float32) {
	best, bi := float32(math.Inf(1)), 0
	for i := 0; i < k; i++ {
		if d := wdist(q, lut[i*v:i*v+v], w); d < best {
			best, bi = d, i
		}
	}
	return bi, best
}
