package finetune

import (
	"math"
	"slices"

	"github.com/pocketgguf/pocketgguf/bridge"
)

// DefaultTopK is how many of the teacher's most likely next tokens are kept
// per position; the rest is kept as one mass, so a 32000-token vocabulary
// costs 64 entries per token instead of 32000.
const DefaultTopK = 64

// topKOf keeps the k most likely entries (ties: the lower index) of each of
// T rows of V log-probabilities, and the log of the remaining mass.
func topKOf(logp []float32, T, V, k int) *bridge.Teacher {
	k = min(k, V)
	te := &bridge.Teacher{K: k, Idx: make([]int32, T*k), LogP: make([]float32, T*k), Rest: make([]float32, T)}
	order := make([]int32, V)
	for t := 0; t < T; t++ {
		row := logp[t*V : (t+1)*V]
		for i := range order {
			order[i] = int32(i)
		}
		slices.SortStableFunc(order, func(a, b int32) int {
			switch {
			case row[a] > row[b]:
				return -1
			case row[a] < row[b]:
				return 1
			}
			return 0
		})
		in := make(map[int32]bool, k)
		for i, j := range order[:k] {
			te.Idx[t*k+i], te.LogP[t*k+i] = j, row[j]
			in[j] = true
		}
		var rest float64
		for j, lp := range row {
			if !in[int32(j)] {
				rest += math.Exp(float64(lp))
			}
		}
		te.Rest[t] = float32(math.Log(rest)) // -Inf when k = V
	}
	return te
}

// sliceTeacher is the teacher of tokens [a, b) of te.
func sliceTeacher(te *bridge.Teacher, a, b int) *bridge.Teacher {
	return &bridge.Teacher{K: te.K, Idx: te.Idx[a*te.K : b*te.K], LogP: te.LogP[a*te.K : b*te.K], Rest: te.Rest[a:b]}
}

// klGradTopK is klGrad against a top-k teacher: Σ_t KL over the k kept
// tokens and the rest as one outcome (the student's rest mass summed over
// the others), with logits overwritten by scale times its gradient: q_j − p_j
// on the kept tokens, q_j·(1 − p_rest/q_rest) on the others. It is the Go
// reference of the loss the ggml trainer computes.
func klGradTopK(logits []float32, te *bridge.Teacher, T, V int, scale float32) float64 {
	var kl float64
	k := te.K
	in := make([]bool, V)
	for t := 0; t < T; t++ {
		z := logits[t*V : (t+1)*V]
		lse := logSumExp(z)
		ix, lp := te.Idx[t*k:(t+1)*k], te.LogP[t*k:(t+1)*k]
		for _, j := range ix {
			in[j] = true
		}
		var qr float64
		for j, v := range z {
			if !in[j] {
				qr += math.Exp(float64(v) - lse)
			}
		}
		for i, j := range ix {
			lq := float64(z[j]) - lse
			p := math.Exp(float64(lp[i]))
			kl += p * (float64(lp[i]) - lq)
			z[j] = scale * float32(math.Exp(lq)-p)
		}
		f := 1.0
		if pr := math.Exp(float64(te.Rest[t])); pr > 0 {
			q := max(qr, 1e-30)
			kl += pr * (float64(te.Rest[t]) - math.Log(q))
			f = 1 - pr/q
		}
		for j, v := range z {
			if !in[j] {
				z[j] = scale * float32(math.Exp(float64(v)-lse)*f)
			}
		}
		for _, j := range ix {
			in[j] = false
		}
	}
	return kl
}
