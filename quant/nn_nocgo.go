//go:build !cgo

package quant

// nearestBatch without cgo: the Go search, one query at a time.
func (t *kdTree) nearestBatch(q, w []float32, guess []int32, lut []float32, idx []int32, dist []float32) {
	v := t.v
	var s kdQuery
	for i := range idx {
		wi := w
		if len(w) != v || len(q) == v {
			wi = w[i*v : i*v+v]
		}
		g := -1
		if guess != nil {
			g = int(guess[i])
		}
		id, d := t.nearestFrom(&s, q[i*v:i*v+v], wi, g, lut)
		idx[i], dist[i] = int32(id), d
	}
}
