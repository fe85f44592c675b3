package quant

import (
	"fmt"
	"math"

	"github.com/pocketgguf/pocketgguf/format"
	"github.com/x448/float16"
)

// Train fits a table to the samples with opt.Method. The table's Sharing is
// left empty for the caller. Its codebook values are f16-representable, so
// writing the codebook as f16 or f32 gives the same LUT.
func Train(s Samples, opt Options, progress Progress) (*format.Table, error) {
	o, err := opt.resolved()
	if err != nil {
		return nil, err
	}
	if err := checkSamples(&s, o.V); err != nil {
		return nil, err
	}
	var tb *format.Table
	switch {
	case o.Codebooks > 1:
		per, err := trainAdditive(&s, o, progress)
		if err != nil {
			return nil, err
		}
		tb = &format.Table{V: o.V, K: o.K, Latent: o.V, Codebooks: o.Codebooks, Codebook: per, Decoder: format.IdentityDecoder(o.V)}
	case o.Method == MethodKMeans:
		cent, _ := kmeans(&s, o, progress)
		tb = &format.Table{V: o.V, K: o.K, Latent: o.V, Codebook: cent, Decoder: format.IdentityDecoder(o.V)}
	default:
		if tb, err = trainPocketLLM(&s, o, progress); err != nil {
			return nil, err
		}
	}
	if err := roundF16(tb.Codebook); err != nil {
		return nil, fmt.Errorf("codebook: %v", err)
	}
	if err := tb.Validate("trained", 1<<16); err != nil {
		return nil, err
	}
	return tb, nil
}

func checkSamples(s *Samples, v int) error {
	switch {
	case s.V != v:
		return fmt.Errorf("samples have sub-vector length %d, options say %d", s.V, v)
	case len(s.X) == 0 || len(s.X)%v != 0:
		return fmt.Errorf("samples: %d values is not a positive multiple of %d", len(s.X), v)
	case s.W != nil && len(s.W) != len(s.X):
		return fmt.Errorf("samples: %d weights for %d values", len(s.W), len(s.X))
	}
	if i := firstNonFinite(s.X); i >= 0 {
		return fmt.Errorf("samples: value %d is %v", i, s.X[i])
	}
	if s.W != nil {
		for i, w := range s.W {
			if !(w >= 0) || math.IsInf(float64(w), 0) {
				return fmt.Errorf("samples: weight %d is %v", i, w)
			}
		}
	}
	return nil
}

func firstNonFinite(xs []float32) int {
	for i, x := range xs {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return i
		}
	}
	return -1
}

// roundF16 rounds every value to the nearest f16 in place.
func roundF16(xs []float32) error {
	for i, x := range xs {
		f := float16.Fromfloat32(x).Float32()
		if math.IsInf(float64(f), 0) {
			return fmt.Errorf("value %g does not fit in f16", x)
		}
		xs[i] = f
	}
	return nil
}
