package eval

import (
	"math"
	"sort"
)

// Point is what one scored position contributes.
type Point struct {
	KLD     float64 // Σ p_base·(log p_base − log p_test)
	NLL     float64 // −log p_test(true token)
	NLLBase float64 // −log p_base(true token)
	SameTop bool    // argmax of both distributions agree
}

// PDiff is p_test(true token) − p_base(true token).
func (p Point) PDiff() float64 { return math.Exp(-p.NLL) - math.Exp(-p.NLLBase) }

// Accumulator gathers the running sums of llama-perplexity's
// kl_divergence_result plus every KLD and Δp value for the percentiles.
type Accumulator struct {
	sumNLL, sumNLL2, sumBase, sumBase2, sumNLLBase float64
	sumKLD, sumKLD2                                float64
	sumPD, sumPD2, sumPD4, maxAbsPD                float64
	sameTop, count                                 int
	klds, pdiffs                                   []float64
}

// Add accumulates one scored position.
func (a *Accumulator) Add(p Point) {
	a.sumNLL += p.NLL
	a.sumNLL2 += p.NLL * p.NLL
	a.sumBase += p.NLLBase
	a.sumBase2 += p.NLLBase * p.NLLBase
	a.sumNLLBase += p.NLL * p.NLLBase
	a.sumKLD += p.KLD
	a.sumKLD2 += p.KLD * p.KLD
	d := p.PDiff()
	a.sumPD += d
	a.sumPD2 += d * d
	a.sumPD4 += d * d * d * d
	a.maxAbsPD = math.Max(a.maxAbsPD, math.Abs(d))
	if p.SameTop {
		a.sameTop++
	}
	a.count++
	a.klds = append(a.klds, p.KLD)
	a.pdiffs = append(a.pdiffs, d)
}

// Count is the number of positions added.
func (a *Accumulator) Count() int { return a.count }

// ValErr is a value with its standard error.
type ValErr struct {
	Val float64 `json:"value"`
	Err float64 `json:"err"`
}

// Stats are the figures llama-perplexity prints at the end of a
// --kl-divergence run; percentages are fractions (0.93 = 93 %).
type Stats struct {
	Count        int     `json:"count"`
	PPL          ValErr  `json:"ppl"`
	PPLBase      ValErr  `json:"ppl_base"`
	LnPPLRatio   ValErr  `json:"ln_ppl_ratio"`
	PPLCorr      float64 `json:"ppl_correlation"`
	KLD          ValErr  `json:"kld_mean"`
	KLDMax       float64 `json:"kld_max"`
	KLDP999      float64 `json:"kld_p99_9"`
	KLDP99       float64 `json:"kld_p99"`
	KLDP95       float64 `json:"kld_p95"`
	KLDP90       float64 `json:"kld_p90"`
	KLDMedian    float64 `json:"kld_median"`
	KLDP10       float64 `json:"kld_p10"`
	KLDP1        float64 `json:"kld_p1"`
	KLDMin       float64 `json:"kld_min"`
	DeltaP       ValErr  `json:"delta_p_mean"`
	DeltaPMedian float64 `json:"delta_p_median"`
	DeltaPMaxAbs float64 `json:"delta_p_max_abs"`
	RMSDeltaP    ValErr  `json:"delta_p_rms"`
	SameTop      ValErr  `json:"same_top"`
}

// meanErr is perplexity.cpp's mean_and_uncertainty: the mean and the standard
// error of the mean from Σx and Σx², zero error for ten values or fewer.
func meanErr(sum, sum2 float64, n int) ValErr {
	if n < 1 {
		return ValErr{}
	}
	f := sum / float64(n)
	df := sum2/float64(n) - f*f
	if df > 0 && n > 10 {
		df = math.Sqrt(df / float64(n-1))
	} else {
		df = 0
	}
	return ValErr{f, df}
}

// covariance of the two means, as perplexity.cpp computes it.
func covariance(sa, sb, sab float64, n int) float64 {
	if n < 10 {
		return 0
	}
	fn := float64(n)
	return (sab/fn - (sa/fn)*(sb/fn)) / (fn - 1)
}

// percentile interpolates linearly between the sorted values around
// fraction·(n−1), as perplexity.cpp does.
func percentile(sorted []float64, fraction float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	if fraction <= 0 {
		return sorted[0]
	}
	if fraction >= 1 {
		return sorted[len(sorted)-1]
	}
	p := fraction * float64(len(sorted)-1)
	ip := int(p)
	p -= float64(ip)
	hi := min(ip+1, len(sorted)-1)
	return (1-p)*sorted[ip] + p*sorted[hi]
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 0 {
		return 0.5 * (sorted[n/2] + sorted[n/2-1])
	}
	return sorted[n/2]
}

// Stats computes the summary; the accumulator stays usable.
func (a *Accumulator) Stats() Stats {
	n := a.count
	s := Stats{Count: n}
	lp := meanErr(a.sumNLL, a.sumNLL2, n)
	lb := meanErr(a.sumBase, a.sumBase2, n)
	s.PPL = ValErr{math.Exp(lp.Val), math.Exp(lp.Val) * lp.Err}
	s.PPLBase = ValErr{math.Exp(lb.Val), math.Exp(lb.Val) * lb.Err}
	cov := covariance(a.sumNLL, a.sumBase, a.sumNLLBase, n)
	if lp.Err > 0 && lb.Err > 0 {
		s.PPLCorr = cov / (lp.Err * lb.Err)
	}
	s.LnPPLRatio = ValErr{lp.Val - lb.Val, math.Sqrt(math.Max(0, lp.Err*lp.Err+lb.Err*lb.Err-2*cov))}
	s.KLD = meanErr(a.sumKLD, a.sumKLD2, n)
	k := sortedCopy(a.klds)
	s.KLDMax, s.KLDMin = percentile(k, 1), percentile(k, 0)
	s.KLDP999, s.KLDP99 = percentile(k, 0.999), percentile(k, 0.99)
	s.KLDP95, s.KLDP90 = percentile(k, 0.95), percentile(k, 0.90)
	s.KLDP10, s.KLDP1 = percentile(k, 0.10), percentile(k, 0.01)
	s.KLDMedian = median(k)
	s.DeltaP = meanErr(a.sumPD, a.sumPD2, n)
	s.DeltaPMedian = median(sortedCopy(a.pdiffs))
	s.DeltaPMaxAbs = a.maxAbsPD
	mse := meanErr(a.sumPD2, a.sumPD4, n)
	s.RMSDeltaP.Val = math.Sqrt(mse.Val)
	if s.RMSDeltaP.Val > 0 {
		s.RMSDeltaP.Err = 0.5 / s.RMSDeltaP.Val * mse.Err
	}
	if n > 0 {
		p := float64(a.sameTop) / float64(n)
		s.SameTop.Val = p
		if n > 1 {
			s.SameTop.Err = math.Sqrt(p * (1 - p) / float64(n-1))
		}
	}
	return s
}

func sortedCopy(x []float64) []float64 {
	c := append([]float64(nil), x...)
	sort.Float64s(c)
	return c
}
