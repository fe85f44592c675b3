package finetune

import "math"

// logSumExp is log Σ exp(z_i), computed from the maximum so it cannot overflow.
func logSumExp(z []float32) float64 {
	mx := z[0]
	for _, v := range z {
		mx = max(mx, v)
	}
	var s float64
	for _, v := range z {
		s += math.Exp(float64(v - mx))
	}
	return float64(mx) + math.Log(s)
}

// logSoftmax writes the log-probabilities of each row of logits into dst.
func logSoftmax(dst, logits []float32, T, V int) {
	for t := 0; t < T; t++ {
		z, d := logits[t*V:(t+1)*V], dst[t*V:(t+1)*V]
		lse := float32(logSumExp(z))
		for i, v := range z {
			d[i] = v - lse
		}
	}
}

// klGrad returns Σ_t KL(teacher_t ‖ student_t) for the student logits and
// the teacher's log-probabilities, and overwrites logits with scale times
// its gradient (softmax(z) − p_teacher).
func klGrad(logits, teacher []float32, T, V int, scale float32) float64 {
	var kl float64
	for t := 0; t < T; t++ {
		z, lp := logits[t*V:(t+1)*V], teacher[t*V:(t+1)*V]
		lse := logSumExp(z)
		for i, v := range z {
			lq := float64(v) - lse
			p := math.Exp(float64(lp[i]))
			kl += p * (float64(lp[i]) - lq)
			z[i] = scale * float32(math.Exp(lq)-p)
		}
	}
	return kl
}
