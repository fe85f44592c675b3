package eval

import "math"

// logSumExp returns max(x) + log(Σ exp(x - max)) in float64 and the index of
// the first maximum, the same pass llama-perplexity makes over a row.
func logSumExp(x []float32) (lse float64, argmax int) {
	m := x[0]
	for i, v := range x {
		if v > m {
			m, argmax = v, i
		}
	}
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v - m))
	}
	return float64(m) + math.Log(s), argmax
}

// logSoftmax writes log p_i = x_i - logsumexp(x) into dst (float64 sums,
// stored as float32) and returns the argmax of x.
func logSoftmax(dst []float32, x []float32) int {
	lse, am := logSumExp(x)
	for i, v := range x {
		dst[i] = float32(float64(v) - lse)
	}
	return am
}
