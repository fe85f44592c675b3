package quant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/pocketgguf/pocketgguf/format"
)

// PocketLLM training, adapted to the file format's position-independent
// decoder (docs/FORMAT.md): the decoder maps one codebook entry to one LUT
// row, so what the file can hold is exactly a set of K points in V dims.
//
// - Codebook initialised from weighted k-means, decoder near identity
//   (W2 = 0, Wo = I), so training starts at k-means quality.
// - The paper's encoder MLP + nearest latent code + straight-through
//   estimator is replaced by its exact limit: every sample is assigned to
//   the nearest decoded entry in weight space (the same argmin Assign uses
//   for the file). A trained encoder only approximates this argmin and is
//   not stored, and the commitment term exists only to pull an encoder
//   output and its code together, so it has nothing to act on here.
// - For a fixed assignment the weighted MSE over all samples equals
//   Σ_k Σ_t Wsum_kt (dec(c_k)_t − mean_kt)² + const, so each Adam step
//   runs the decoder once per used code, not once per sample: exact
//   full-data gradients at a fraction of the cost.
// - Adam, lr 1.6e-2 decayed ×0.1 every 30% of the epochs (the paper's 15 of
//   50), reassigning every epochs/pocketRounds epochs; the best table by
//   training error (k-means included) is returned, so the result is never
//   worse than its k-means start on the training samples.

const (
	pocketRounds     = 3    // assignment refreshes during training
	pocketKMeansIter = 25   // Lloyd iterations of the initialisation
	pocketBatch      = 4096 // codes per Adam step
	pocketShard      = 256  // codes per parallel work unit
)

func trainPocketLLM(s *Samples, o Options, progress Progress) (*format.Table, error) {
	if o.Latent != o.V {
		return nil, fmt.Errorf("pocketllm: latent dimension %d != V = %d: the decoder ends in a linear Wo, so a smaller latent maps every entry into a %d-dimensional subspace and a larger one only costs codebook bytes", o.Latent, o.V, o.Latent)
	}
	rep := newReporter(progress, int64(pocketKMeansIter+o.Epochs))
	ko := o
	ko.Epochs = pocketKMeansIter
	cent, idx := kmeans(s, ko, func(done, _ int64) { rep.set(done) })
	rng := rand.New(rand.NewPCG(o.Seed, 0x9e3779b97f4a7c15))
	tb := identityPocketTable(cent, o, rng.NormFloat64)

	n, v, k := s.Len(), o.V, o.K
	dist := make([]float32, n)
	evaluate := func(t *format.Table) (float64, error) {
		c := cloneTable(t)
		if err := roundF16(c.Codebook); err != nil {
			return 0, err
		}
		return newSearcher(c.BuildLUT(k), k, v).assignSamples(s, o.Threads, idx, dist, true), nil
	}
	bestErr, err := evaluate(tb)
	if err != nil {
		return nil, err
	}
	best := cloneTable(tb)

	tr := newPocketTrainer(tb, o)
	perRound := max(1, (o.Epochs+pocketRounds-1)/pocketRounds)
	decayEvery := max(1, int(math.Round(0.3*float64(o.Epochs))))
	for e := 0; e < o.Epochs; e++ {
		if e%perRound == 0 {
			tr.setTargets(s, idx)
		}
		lr := o.LR * math.Pow(0.1, float64(e/decayEvery))
		tr.epoch(lr, rng)
		rep.add(1)
		if (e+1)%perRound == 0 || e == o.Epochs-1 {
			if err := firstBad(tb); err != nil {
				break // diverged: keep the best table so far
			}
			cur, err := evaluate(tb)
			if err != nil {
				break
			}
			if cur < bestErr {
				bestErr, best = cur, cloneTable(tb)
			}
		}
	}
	return best, nil
}

func firstBad(tb *format.Table) error {
	if i := firstNonFinite(tb.Codebook); i >= 0 {
		return fmt.Errorf("codebook value %d is %v", i, tb.Codebook[i])
	}
	if i := firstNonFinite(tb.Decoder); i >= 0 {
		return fmt.Errorf("decoder value %d is %v", i, tb.Decoder[i])
	}
	return nil
}

func cloneTable(t *format.Table) *format.Table {
	c := *t
	c.Codebook = slices.Clone(t.Codebook)
	c.Decoder = slices.Clone(t.Decoder)
	return &c
}

// pocketTrainer holds the parameters (aliasing the table), per-code targets
// and Adam state.
type pocketTrainer struct {
	tb      *format.Table
	net     decoderNet
	threads int
	target  []float32 // K*V weighted means of each code's samples
	gain    []float32 // K*V: Σ weights of each code's samples / Σ all weights
	used    []int32   // codes with at least one sample
	// Adam state
	step        int
	mP, vP, gP  []float32
	mC, vC, gC  []float32
	shardG      [][]float32
	tapes       []*decoderTape
	outs, douts [][]float32
}

func newPocketTrainer(tb *format.Table, o Options) *pocketTrainer {
	P, C := len(tb.Decoder), len(tb.Codebook)
	ns := numChunks(pocketBatch, pocketShard)
	tr := &pocketTrainer{tb: tb, net: netOf(tb), threads: o.Threads,
		target: make([]float32, tb.K*tb.V), gain: make([]float32, tb.K*tb.V),
		mP: make([]float32, P), vP: make([]float32, P), gP: make([]float32, P),
		mC: make([]float32, C), vC: make([]float32, C), gC: make([]float32, C)}
	for i := 0; i < ns; i++ {
		tr.shardG = append(tr.shardG, make([]float32, P))
		tr.tapes = append(tr.tapes, tr.net.newTape())
		tr.outs = append(tr.outs, make([]float32, tb.V))
		tr.douts = append(tr.douts, make([]float32, tb.V))
	}
	return tr
}

// setTargets computes every code's weighted mean and weight share from the
// assignment (sequential: one summation order).
func (tr *pocketTrainer) setTargets(s *Samples, idx []int32) {
	v, k := tr.tb.V, tr.tb.K
	sum := make([]float64, k*v)
	ws := make([]float64, k*v)
	var total float64
	for i, c := range idx {
		for t := 0; t < v; t++ {
			w := 1.0
			if s.W != nil {
				w = float64(s.W[i*v+t])
			}
			sum[int(c)*v+t] += w * float64(s.X[i*v+t])
			ws[int(c)*v+t] += w
			total += w
		}
	}
	tr.used = tr.used[:0]
	for c := 0; c < k; c++ {
		any := false
		for t := 0; t < v; t++ {
			j := c*v + t
			tr.gain[j], tr.target[j] = 0, 0
			if ws[j] > 0 {
				tr.gain[j] = float32(ws[j] / total)
				tr.target[j] = float32(sum[j] / ws[j])
				any = true
			}
		}
		if any {
			tr.used = append(tr.used, int32(c))
		}
	}
}

// epoch runs one pass of Adam steps over the used codes in a seeded order.
func (tr *pocketTrainer) epoch(lr float64, rng *rand.Rand) {
	order := slices.Clone(tr.used)
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	for b := 0; b < len(order); b += pocketBatch {
		tr.stepOn(order[b:min(len(order), b+pocketBatch)], lr)
	}
}

// stepOn computes exact gradients of Σ gain·(dec(c)−target)² over the codes
// in batch (fixed shards, reduced in shard order) and takes one Adam step.
func (tr *pocketTrainer) stepOn(batch []int32, lr float64) {
	n, d, v := tr.net, tr.tb.Latent, tr.tb.V
	p, cb := tr.tb.Decoder, tr.tb.Codebook
	forChunks(len(batch), pocketShard, tr.threads, func(sh, lo, hi int) {
		g, tp, out, dout := tr.shardG[sh], tr.tapes[sh], tr.outs[sh], tr.douts[sh]
		clear(g)
		for _, c := range batch[lo:hi] {
			code := cb[int(c)*d : int(c)*d+d]
			n.forward(p, code, out, tp)
			for t := 0; t < v; t++ {
				j := int(c)*v + t
				dout[t] = 2 * tr.gain[j] * (out[t] - tr.target[j])
			}
			n.backward(p, g, dout, tr.gC[int(c)*d:int(c)*d+d], tp)
		}
	})
	clear(tr.gP)
	for sh := 0; sh < numChunks(len(batch), pocketShard); sh++ {
		for i, x := range tr.shardG[sh] {
			tr.gP[i] += x
		}
	}
	tr.step++
	const b1, b2, eps = 0.9, 0.999, 1e-8
	c1 := 1 - math.Pow(b1, float64(tr.step))
	c2 := 1 - math.Pow(b2, float64(tr.step))
	adam := func(x, m, vv, g []float32) {
		for i := range x {
			gi := float64(g[i])
			mi := b1*float64(m[i]) + (1-b1)*gi
			vi := b2*float64(vv[i]) + (1-b2)*gi*gi
			m[i], vv[i] = float32(mi), float32(vi)
			x[i] -= float32(lr * (mi / c1) / (math.Sqrt(vi/c2) + eps))
		}
	}
	adam(p, tr.mP, tr.vP, tr.gP)
	for _, c := range batch { // lazy Adam on the codebook rows in this batch
		r := int(c) * d
		adam(cb[r:r+d], tr.mC[r:r+d], tr.vC[r:r+d], tr.gC[r:r+d])
	}
}
