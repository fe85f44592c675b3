package eval

import "math"

// scorePosition compares one position: baseLogP are the base model's
// log-probabilities (entries at or below floor are left out of the KLD sum),
// meta its exact NLL and argmax, test the test model's logits, tok the true
// next token. Sums run in float64.
func scorePosition(baseLogP []float32, floor float64, meta rowMeta, test []float32, tok int32) Point {
	lse, am := logSumExp(test)
	var kld float64
	for i, lb := range baseLogP {
		l := float64(lb)
		if l > floor {
			kld += math.Exp(l) * (l - (float64(test[i]) - lse))
		}
	}
	return Point{
		KLD:     kld,
		NLL:     lse - float64(test[tok]),
		NLLBase: meta.nllBase,
		SameTop: int32(am) == meta.argmax,
	}
}
