package recipe

import (
	"time"

	"github.com/pocketgguf/pocketgguf/calib"
)

// Estimate is a plan's time per step on the reference machine.
type Estimate struct {
	Sample  time.Duration // generating --calib-self text
	Collect time.Duration // importance matrix and covariances over the text
	Convert time.Duration // training tables, assigning codes (GPTQ or not)
	Teacher time.Duration // the input model's top-k distributions, once
	Tune    time.Duration // fine-tuning epochs
}

// Total is the whole plan.
func (e Estimate) Total() time.Duration {
	return e.Sample + e.Collect + e.Convert + e.Teacher + e.Tune
}

// The cost model: seconds on the reference machine, the 2-core AMD EPYC
// (AVX2, no AVX-512) these figures were measured on with both threads, as a
// function of the model's shape. It only has to rank plans and say the order
// of magnitude: a plan within its budget here may take twice as long on a
// loaded or slower machine. Figures (docs/CONVERT.md, "Time budget"):
//
//   - decoding one token (--calib-self sampling) streams the weights once:
//     decodeBase + Bytes/decodeBandwidth, on one context per core while the
//     model is small enough to want one thread (llamacalib.SelfText).
//   - a batched forward token (collection, the teacher): fwdBase + 2·Params
//     FLOP at fwdFLOPS, plus the covariances' CovFMA multiply-adds at covFMAS.
//   - conversion: per weight, and more for the weights GPTQ assigns (those
//     with a covariance; its error feedback costs O(cols) per weight).
//   - a fine-tuning token (forward, backward, optimizer): ftBase or Params ×
//     ftPerParam, whichever is more (small models are bound by the graph's
//     ~1,500 ops per step, large ones by their gemms: llama7b-2l 6.7-8.2
//     tokens/s, docs/bench/converter.md).
const (
	decodeBase       = 100e-6 // s per token
	decodeBandwidth  = 15e9   // bytes/s
	decodeSmallModel = 100e6  // params: below, two contexts sample at once
	fwdBase          = 60e-6  // s per token
	fwdFLOPS         = 40e9
	covFMAS          = 2e9
	convertPerWeight = 0.5e-6 // s: table training and nearest-entry search (llama7b-2l --bpw 2.5: 0.51 µs a weight wall, loaded)
	gptqPerWeight    = 1.5e-6 // s more for a weight GPTQ assigns
	convertBase      = 1.0    // s: reading, planning, writing
	ftBase           = 0.5e-3 // s per token: stories260K ran 2,400-3,200 tokens/s on 2 threads, 1,000 under load
	ftPerParam       = 2.3e-10
	ftSetup          = 5.0 // s: building the graph, loading both models
)

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// estimate is the cost model applied to a plan.
func (s Shape) estimate(p Plan) Estimate {
	var e Estimate
	tokens := p.tokens()
	P := float64(s.Params)
	fwd := fwdBase + 2*P/fwdFLOPS
	if p.Source == SourceSelf {
		dec := decodeBase + float64(s.Bytes)/decodeBandwidth
		if P < decodeSmallModel {
			dec /= 2
		}
		e.Sample = seconds(tokens * dec)
	}
	if p.Calibrated() {
		c := fwd
		if p.GPTQ {
			c += float64(s.CovFMA) / covFMAS
		}
		e.Collect = seconds(tokens * c)
	}
	conv := convertBase + P*convertPerWeight
	if p.GPTQ {
		conv += float64(s.GPTQParams) * gptqPerWeight
	}
	e.Convert = seconds(conv)
	if p.Epochs > 0 {
		e.Teacher = seconds(ftSetup + tokens*fwd)
		e.Tune = seconds(float64(p.Epochs) * s.epochSeconds(p))
	}
	return e
}

// epochSeconds is one fine-tuning epoch: a step per training token and a
// forward pass per held-out one (finetune keeps a fifth of the chunks out).
func (s Shape) epochSeconds(p Plan) float64 {
	tokens := p.tokens()
	step := max(ftBase, float64(s.Params)*ftPerParam)
	fwd := fwdBase + 2*float64(s.Params)/fwdFLOPS
	return tokens*0.8*step + tokens*0.2*fwd
}

// epochsWithin is how many epochs (at most MaxEpochs) fit the budget after
// the plan's other steps; 0 when not one does.
func (s Shape) epochsWithin(p Plan, budget time.Duration) int {
	p.Epochs = 1
	e := s.estimate(p)
	left := budget - (e.Total() - e.Tune)
	per := seconds(s.epochSeconds(p))
	if left < per || per <= 0 {
		return 0
	}
	return min(MaxEpochs, int(left/per))
}

// tokens are the calibration tokens the plan reads. All of a text file
// (--calib-chunks 0) is priced as the default chunk count: the shape does
// not know the text's length.
func (p Plan) tokens() float64 {
	if p.Chunks == 0 {
		return float64(calib.DefaultChunks * p.Ctx)
	}
	return float64(p.Chunks * p.Ctx)
}
