package bridge

import (
	"runtime"
	"sync"
)

// addOuterUpper adds Σ_t x_t·x_tᵀ over the n rows x_t of xT to the upper
// triangle of the d×d row-major matrix cov (entries below the diagonal of
// the diagonal blocks are written too, and never read). xT holds the rows
// transposed: xT[i*n+t] is x_t[i].
//
// Every entry starts from its stored value and adds x_t[i]·x_t[j] for t in
// increasing order, which is exactly the order of one rank-1 update per row,
// so the sums are bit-identical to that loop (Go does not fuse the multiply
// and add on amd64); what changes is that a 2×4 block of entries stays in
// registers over all n rows (2×4: 8 sums and 6 inputs fit amd64's 16 vector
// registers; 4×4 spills) instead of a load and a store of cov per product.
// Written by hand: gonum's Dsyrk sums in another order, which would change
// every GPTQ conversion's bytes.
func addOuterUpper(cov []float64, xT []float64, d, n int) {
	addOuterPairs(cov, xT, d, n, 0, 1)
}

// addOuterUpperParallel is addOuterUpper on all cores: the pairs of rows
// are dealt round-robin (their work shrinks along the triangle), each entry
// is summed by one goroutine in the same order, so the bits do not depend
// on the core count.
func addOuterUpperParallel(cov []float64, xT []float64, d, n int) {
	w := min(runtime.GOMAXPROCS(0), (d+1)/2)
	if w <= 1 || d*d*n < 1<<20 {
		addOuterUpper(cov, xT, d, n)
		return
	}
	var wg sync.WaitGroup
	for k := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addOuterPairs(cov, xT, d, n, k, w)
		}()
	}
	wg.Wait()
}

// addOuterPairs does the pairs of rows (2p, 2p+1) for p = first, first +
// stride, ...; an odd width's last row counts as a pair.
func addOuterPairs(cov []float64, xT []float64, d, n, first, stride int) {
	for p := first; 2*p < d; p += stride {
		i := 2 * p
		if i+1 == d {
			addOuterRow(cov, xT, d, n, i, i)
			continue
		}
		a0, a1 := xT[i*n:i*n+n], xT[(i+1)*n:(i+1)*n+n]
		j := i
		for ; j+4 <= d; j += 4 {
			b0, b1, b2, b3 := xT[j*n:j*n+n], xT[(j+1)*n:(j+1)*n+n], xT[(j+2)*n:(j+2)*n+n], xT[(j+3)*n:(j+3)*n+n]
			r0, r1 := cov[i*d+j:i*d+j+4], cov[(i+1)*d+j:(i+1)*d+j+4]
			c00, c01, c02, c03 := r0[0], r0[1], r0[2], r0[3]
			c10, c11, c12, c13 := r1[0], r1[1], r1[2], r1[3]
			// The reslices let the compiler drop the loop's bounds checks.
			a1, b0, b1, b2, b3 = a1[:len(a0)], b0[:len(a0)], b1[:len(a0)], b2[:len(a0)], b3[:len(a0)]
			for t, x0 := range a0 {
				x1 := a1[t]
				y0, y1, y2, y3 := b0[t], b1[t], b2[t], b3[t]
				c00 += x0 * y0
				c01 += x0 * y1
				c02 += x0 * y2
				c03 += x0 * y3
				c10 += x1 * y0
				c11 += x1 * y1
				c12 += x1 * y2
				c13 += x1 * y3
			}
			r0[0], r0[1], r0[2], r0[3] = c00, c01, c02, c03
			r1[0], r1[1], r1[2], r1[3] = c10, c11, c12, c13
		}
		addOuterRow(cov, xT, d, n, i, j) // columns past the last whole block
		addOuterRow(cov, xT, d, n, i+1, j)
	}
}

// addOuterRow is addOuterUpper's entries (i, j0..d-1), one at a time.
func addOuterRow(cov, xT []float64, d, n, i, j0 int) {
	a := xT[i*n : i*n+n]
	for j := j0; j < d; j++ {
		b := xT[j*n : j*n+n]
		c := cov[i*d+j]
		for t := range a {
			c += a[t] * b[t]
		}
		cov[i*d+j] = c
	}
}
