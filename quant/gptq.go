package quant

import (
	"fmt"
	"math"

	"github.com/pocketgguf/pocketgguf/format"
)

// AssignGPTQ is Assign with error feedback (GPTQ, Frantar et al. 2022, as
// GPTVQ applies it to vector quantization): sub-vectors are assigned left to
// right along each row, and each one's error is pushed onto the row's
// not-yet-assigned columns through the input covariance H (mean x·xᵀ of the
// weight's input over calibration text, cols×cols, row-major), so that the
// error of the layer's output W·x, not of W, is what the choice minimises.
// Row scales, when opt.RowScale, start from RowScales and are then refit by
// least squares in the H metric. Same determinism as Assign.
//
// Cost per row is about cols² multiply-adds, plus O(cols³) once per tensor
// for the factorisation: meant for input widths up to a few thousand.
func AssignGPTQ(tb *format.Table, lut []float32, m Matrix, hess []float64, opt Options, progress Progress) (*Assignment, error) {
	if len(hess) != m.Cols*m.Cols {
		return nil, fmt.Errorf("tensor %q: input covariance has %d values, want %d×%d", m.Name, len(hess), m.Cols, m.Cols)
	}
	pre, err := prepareAssign(tb, lut, m, nil, opt)
	if err != nil {
		return nil, err
	}
	v, k, lut := pre.v, pre.k, pre.sr.lut // search entries; pre.lut is what stored indices read
	a := pre.a
	per := m.Cols / v
	u, err := gptqFactor(hess, m.Cols)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %v", m.Name, err)
	}
	// The search metric for a sub-vector is GPTQ's: an error in column c
	// costs err²/U[c,c]² of output error once later columns compensate.
	metric := make([]float32, m.Cols)
	for c := range metric {
		d := u[c*m.Cols+c]
		metric[c] = float32(1 / (d * d))
	}
	err = pre.run(m, progress, func() func(r int) error {
		w := make([]float64, m.Cols)
		x := make([]float32, v)
		ep := make([]float64, v)
		var q *kdQuery
		if pre.sr.tree != nil {
			q = &kdQuery{}
		}
		return func(r int) error {
			row := m.Data[r*m.Cols : (r+1)*m.Cols]
			idx := a.Indices[r*per : (r+1)*per]
			s := scaleOf(a.Scales, r)
			if s == 0 { // an all-zero row: entry 0 times scale 0
				return nil
			}
			for i, wi := range row {
				w[i] = float64(wi)
			}
			for j := 0; j < per; j++ {
				c0 := j * v
				for t := 0; t < v; t++ {
					x[t] = float32(w[c0+t] / float64(s))
				}
				var id int
				if q != nil {
					id, _ = pre.sr.tree.nearest(q, x, metric[c0:c0+v])
				} else {
					id, _ = bruteNearest(lut, k, v, x, metric[c0:c0+v])
				}
				idx[j] = pre.index(id)
				// e' solves e'·U_GG = e (U_GG upper triangular), then the
				// later columns take -e'·U_G,rest.
				for t := 0; t < v; t++ {
					e := w[c0+t] - float64(s)*float64(lut[id*v+t])
					for i := 0; i < t; i++ {
						e -= ep[i] * u[(c0+i)*m.Cols+c0+t]
					}
					ep[t] = e / u[(c0+t)*m.Cols+c0+t]
				}
				for t := 0; t < v; t++ {
					urow := u[(c0+t)*m.Cols : (c0+t+1)*m.Cols]
					for cc := c0 + v; cc < m.Cols; cc++ {
						w[cc] -= ep[t] * urow[cc]
					}
				}
			}
			if a.Scales != nil {
				ns, err := refitScaleH(pre.lut, v, row, idx, hess, s)
				if err != nil {
					return fmt.Errorf("row %d: %v", r, err)
				}
				a.Scales[r] = ns
			}
			return nil
		}
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// gptqDamp is GPTQ's default dampening: 1% of the mean diagonal is added to
// H so that its inverse exists and weights of nearly unused inputs still fit.
const gptqDamp = 0.01

// gptqFactor returns U, the upper Cholesky factor of (H + damp·I)⁻¹
// (row-major n×n, zero below the diagonal). Columns whose input was never
// seen (H[c,c] = 0) get H[c,c] = 1, as GPTQ does, so they cost like any other.
// Written by hand: two O(n³) float64 loops on matrices of at most a few
// thousand columns, where a BLAS dependency would buy little.
func gptqFactor(hess []float64, n int) ([]float64, error) {
	h := append([]float64(nil), hess...)
	var mean float64
	for c := 0; c < n; c++ {
		d := h[c*n+c]
		if math.IsNaN(d) || math.IsInf(d, 0) || d < 0 {
			return nil, fmt.Errorf("input covariance diagonal %d is %v", c, d)
		}
		if d == 0 {
			h[c*n+c] = 1
		}
		mean += h[c*n+c]
	}
	mean /= float64(n)
	for c := 0; c < n; c++ {
		h[c*n+c] += gptqDamp * mean
	}
	// With J the order reversal and J·H·J = L·Lᵀ (lower L), U = J·L⁻¹·J is
	// upper triangular and Uᵀ·U = J·L⁻ᵀ·L⁻¹·J = H⁻¹: one Cholesky and one
	// triangular inverse, no explicit H⁻¹.
	r := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			r[i*n+j] = h[(n-1-i)*n+(n-1-j)]
		}
	}
	l, err := cholesky(r, n)
	if err != nil {
		return nil, err
	}
	li := make([]float64, n*n) // L⁻¹, lower triangular, column by column
	for c := 0; c < n; c++ {
		li[c*n+c] = 1 / l[c*n+c]
		for i := c + 1; i < n; i++ {
			var s float64
			for k := c; k < i; k++ {
				s += l[i*n+k] * li[k*n+c]
			}
			li[i*n+c] = -s / l[i*n+i]
		}
	}
	u := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			u[i*n+j] = li[(n-1-i)*n+(n-1-j)]
		}
	}
	return u, nil
}

// cholesky returns the lower factor L of a symmetric positive definite a.
func cholesky(a []float64, n int) ([]float64, error) {
	l := make([]float64, n*n)
	for j := 0; j < n; j++ {
		s := a[j*n+j]
		for k := 0; k < j; k++ {
			s -= l[j*n+k] * l[j*n+k]
		}
		if !(s > 0) {
			return nil, fmt.Errorf("input covariance is not positive definite (pivot %d is %g)", j, s)
		}
		d := math.Sqrt(s)
		l[j*n+j] = d
		for i := j + 1; i < n; i++ {
			s := a[i*n+j]
			for k := 0; k < j; k++ {
				s -= l[i*n+k] * l[j*n+k]
			}
			l[i*n+j] = s / d
		}
	}
	return l, nil
}

// refitScaleH returns the f16-rounded scale minimising the output error
// (w − s·l)·H·(w − s·l)ᵀ of a row for its chosen entries l, or s0 when that
// fits worse.
func refitScaleH(lut []float32, v int, row []float32, idx []uint32, hess []float64, s0 float32) (float32, error) {
	n := len(row)
	l := make([]float64, n)
	for j, id := range idx {
		for t := 0; t < v; t++ {
			l[j*v+t] = float64(lut[int(id)*v+t])
		}
	}
	hl := make([]float64, n)
	for i := 0; i < n; i++ {
		var s float64
		for k, x := range l {
			s += hess[i*n+k] * x
		}
		hl[i] = s
	}
	var num, den float64
	for i := 0; i < n; i++ {
		num += float64(row[i]) * hl[i]
		den += l[i] * hl[i]
	}
	if den <= 0 || num <= 0 {
		return s0, nil
	}
	s1, err := roundScale(num / den)
	if err != nil {
		return 0, err
	}
	// err(s) = wHw − 2s·num + s²·den: compare without rebuilding the row.
	cost := func(s float32) float64 { return -2*float64(s)*num + float64(s)*float64(s)*den }
	if cost(s1) < cost(s0) {
		return s1, nil
	}
	return s0, nil
}

// rowError returns a row's unweighted squared error and Σ W².
func rowError(lut []float32, v int, row []float32, idx []uint32, s float32) (float64, float64) {
	var e, ref float64
	for j, id := range idx {
		l := lut[int(id)*v : int(id)*v+v]
		for t := 0; t < v; t++ {
			wt := float64(row[j*v+t])
			d := wt - float64(s*l[t])
			e += d * d
			ref += wt * wt
		}
	}
	return e, ref
}

func scaleOf(scales []float32, r int) float32 {
	if scales == nil {
		return 1
	}
	return scales[r]
}

// sumsRelRMSE reduces per-chunk sums in chunk order.
func sumsRelRMSE(errSum, refSum []float64) float64 {
	var es, rs float64
	for c := range errSum {
		es += errSum[c]
		rs += refSum[c]
	}
	if rs > 0 {
		return math.Sqrt(es / rs)
	}
	if es > 0 {
		return math.Inf(1)
	}
	return 0
}
