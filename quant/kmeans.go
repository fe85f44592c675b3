package quant

import (
	"math"
	"math/rand/v2"
	"sort"
)

// searcher finds exact nearest entries of one LUT; one per table state.
type searcher struct {
	lut  []float32
	k, v int
	tree *kdTree // nil: brute force (small K, where it is as fast)
}

func newSearcher(lut []float32, k, v int) *searcher {
	s := &searcher{lut: lut, k: k, v: v}
	if k > 32 {
		s.tree = newKDTree(lut, k, v)
	}
	return s
}

// assignChunk is the fixed work unit of every parallel assignment.
const assignChunk = 4096

// assignSamples writes the nearest entry and its weighted distance for every
// sample and returns the total weighted error (reduced in chunk order). With
// guess set, idx holds the previous assignment, used as the search's start.
func (sr *searcher) assignSamples(s *Samples, threads int, idx []int32, dist []float32, guess bool) float64 {
	v, n := s.V, s.Len()
	part := make([]float64, numChunks(n, assignChunk))
	one := ones(v)
	forChunks(n, assignChunk, threads, func(c, lo, hi int) {
		x := s.X[lo*v : hi*v]
		w := one
		if s.W != nil {
			w = s.W[lo*v : hi*v]
		}
		if sr.tree != nil {
			var g []int32
			if guess {
				g = idx[lo:hi]
			}
			sr.tree.nearestBatch(x, w, g, sr.lut, idx[lo:hi], dist[lo:hi])
		} else {
			for i := lo; i < hi; i++ {
				wi := one
				if s.W != nil {
					wi = s.W[i*v : i*v+v]
				}
				id, d := bruteNearest(sr.lut, sr.k, v, s.X[i*v:i*v+v], wi)
				idx[i], dist[i] = int32(id), d
			}
		}
		var sum float64
		for _, d := range dist[lo:hi] {
			sum += float64(d)
		}
		part[c] = sum
	})
	var total float64
	for _, p := range part {
		total += p
	}
	return total
}

// kmeans runs weighted Lloyd iterations from a seeded initialisation and
// returns the centroids (K*V) and the last assignment of the samples.
func kmeans(s *Samples, o Options, progress Progress) ([]float32, []int32) {
	v, n, k := s.V, s.Len(), o.K
	rng := rand.New(rand.NewPCG(o.Seed, 0xc0deb00c))
	cent := initCentroids(s, k, rng)
	idx := make([]int32, n)
	dist := make([]float32, n)
	sums := make([]float64, k*v)
	wsum := make([]float64, k*v)
	count := make([]int, k)
	prev := math.Inf(1)
	for it := 0; it < o.Epochs; it++ {
		err := newSearcher(cent, k, v).assignSamples(s, o.Threads, idx, dist, it > 0)
		if prev-err <= 1e-5*err || it == o.Epochs-1 {
			if progress != nil { // converged: the bar ends full
				progress(int64(o.Epochs), int64(o.Epochs))
			}
			break
		}
		if progress != nil {
			progress(int64(it+1), int64(o.Epochs))
		}
		prev = err
		updateCentroids(s, idx, dist, cent, sums, wsum, count)
	}
	return cent, idx
}

// updateCentroids moves every centroid to the weighted mean of its samples
// (per element: Σ w x / Σ w), the exact minimiser for a fixed assignment, and
// reseeds empty ones at the worst-fitted samples. Sequential, so the sums
// have one order.
func updateCentroids(s *Samples, idx []int32, dist []float32, cent []float32, sums, wsum []float64, count []int) {
	v := s.V
	clear(sums)
	clear(wsum)
	clear(count)
	for i, c := range idx {
		count[c]++
		x := s.X[i*v : i*v+v]
		for t := 0; t < v; t++ {
			w := float64(1)
			if s.W != nil {
				w = float64(s.W[i*v+t])
			}
			sums[int(c)*v+t] += w * float64(x[t])
			wsum[int(c)*v+t] += w
		}
	}
	var empty []int
	for c := range count {
		if count[c] == 0 {
			empty = append(empty, c)
			continue
		}
		for t := 0; t < v; t++ {
			if wsum[c*v+t] > 0 {
				cent[c*v+t] = float32(sums[c*v+t] / wsum[c*v+t])
			}
		}
	}
	if len(empty) == 0 {
		return
	}
	// Worst-fitted samples first (ties: lower index), one per empty centroid.
	order := make([]int32, len(idx))
	for i := range order {
		order[i] = int32(i)
	}
	sort.Slice(order, func(a, b int) bool {
		da, db := dist[order[a]], dist[order[b]]
		return da > db || da == db && order[a] < order[b]
	})
	for e, c := range empty {
		if e >= len(order) {
			break
		}
		i := int(order[e])
		copy(cent[c*v:c*v+v], s.X[i*v:i*v+v])
	}
}

// initCentroids: weighted k-means++ (D² sampling) on a subsample for K <=
// 1024, where its K·m·v cost is small; for larger K, distinct random samples
// (Lloyd iterations then do the work). With fewer samples than K, the rest
// repeat samples.
func initCentroids(s *Samples, k int, rng *rand.Rand) []float32 {
	v, n := s.V, s.Len()
	cent := make([]float32, k*v)
	if n <= k {
		for c := 0; c < k; c++ {
			copy(cent[c*v:c*v+v], s.X[(c%n)*v:(c%n)*v+v])
		}
		return cent
	}
	if k > 1024 {
		perm := make([]int32, n)
		for i := range perm {
			perm[i] = int32(i)
		}
		for c := 0; c < k; c++ { // partial Fisher–Yates
			j := c + rng.IntN(n-c)
			perm[c], perm[j] = perm[j], perm[c]
			i := int(perm[c])
			copy(cent[c*v:c*v+v], s.X[i*v:i*v+v])
		}
		return cent
	}
	m := min(n, 32*k)
	stride := float64(n) / float64(m)
	sub := make([]int, m)
	for i := range sub {
		sub[i] = int(float64(i) * stride)
	}
	one := ones(v)
	wOf := func(i int) []float32 {
		if s.W == nil {
			return one
		}
		return s.W[i*v : i*v+v]
	}
	d2 := make([]float64, m)
	for i := range d2 {
		d2[i] = math.Inf(1)
	}
	first := sub[rng.IntN(m)]
	copy(cent[0:v], s.X[first*v:first*v+v])
	for c := 1; c < k; c++ {
		prev := cent[(c-1)*v : c*v]
		var total float64
		for j, i := range sub {
			d := float64(wdist(s.X[i*v:i*v+v], prev, wOf(i)))
			if d < d2[j] {
				d2[j] = d
			}
			total += d2[j]
		}
		pick := sub[rng.IntN(m)]
		if total > 0 {
			r := rng.Float64() * total
			for j, i := range sub {
				r -= d2[j]
				if r < 0 {
					pick = i
					break
				}
			}
		}
		copy(cent[c*v:c*v+v], s.X[pick*v:pick*v+v])
	}
	return cent
}
