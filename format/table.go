package format

import (
	"fmt"
	"math"
)

// Table is one codebook (or, for additive types, M codebooks) with its
// decoder: what a PQ tensor's indices point into.
type Table struct {
	V, K, Latent int       // sub-vector length, entries (per codebook), latent dimension d
	Codebook     []float32 // M*K*Latent: codebook-major, then entry-major
	// Codebooks is M for an additive table (pocket.table.<G>.codebooks);
	// 0 and 1 both mean a plain table of one codebook.
	Codebooks int
	Blocks    int       // residual MLP blocks B
	Hidden    int       // hidden width h
	Decoder   []float32 // DecoderLen() values, order in docs/FORMAT.md
	Sharing   string    // "tensor", "kind" or "model"
}

// DecoderLen is B·(2hd+h+d) + vd + v.
func (t *Table) DecoderLen() int {
	d, h := t.Latent, t.Hidden
	return t.Blocks*(2*h*d+h+d) + t.V*d + t.V
}

// IdentityDecoder returns decoder parameters that make LUT == codebook
// (a plain k-means table: B = 0, d = v, Wo = I, co = 0).
func IdentityDecoder(v int) []float32 {
	p := make([]float32, v*v+v)
	for i := 0; i < v; i++ {
		p[i*v+i] = 1
	}
	return p
}

// M is the number of codebooks: Codebooks, with 0 read as 1.
func (t *Table) M() int { return max(t.Codebooks, 1) }

// Additive reports whether the table has several codebooks whose entries add up.
func (t *Table) Additive() bool { return t.Codebooks > 1 }

// maxCodebooks is the most codebooks an additive type has (pqa_8x16).
const maxCodebooks = 4

// Validate checks the table's shape and values (docs/FORMAT.md, "Validation").
// maxK bounds K for a plain table; an additive table's codebooks have at most
// AdditiveK entries whatever maxK says.
func (t *Table) Validate(name string, maxK int) error {
	if t.Additive() {
		maxK = min(maxK, AdditiveK)
	}
	switch {
	case t.V != 2 && t.V != 4 && t.V != 8:
		return fmt.Errorf("table %q: vector length %d (want 2, 4 or 8)", name, t.V)
	case t.Codebooks < 0 || t.Codebooks > maxCodebooks:
		return fmt.Errorf("table %q: %d codebooks (want 1..%d)", name, t.Codebooks, maxCodebooks)
	case t.K < 1 || t.K > maxK:
		return fmt.Errorf("table %q: %d codebook entries (want 1..%d)", name, t.K, maxK)
	case t.Latent < 1 || t.Latent > 64:
		return fmt.Errorf("table %q: latent dimension %d (want 1..64)", name, t.Latent)
	case t.Blocks < 0 || t.Blocks > 16 || t.Hidden < 0 || t.Hidden > 1024 || (t.Blocks > 0 && t.Hidden < 1):
		return fmt.Errorf("table %q: decoder with %d blocks of width %d", name, t.Blocks, t.Hidden)
	case len(t.Codebook) != t.M()*t.K*t.Latent:
		if t.Additive() {
			return fmt.Errorf("table %q: codebook has %d values, want codebooks*K*latent = %d", name, len(t.Codebook), t.M()*t.K*t.Latent)
		}
		return fmt.Errorf("table %q: codebook has %d values, want K*latent = %d", name, len(t.Codebook), t.K*t.Latent)
	case len(t.Decoder) != t.DecoderLen():
		return fmt.Errorf("table %q: decoder has %d values, want %d", name, len(t.Decoder), t.DecoderLen())
	}
	if i := FirstNonFinite(t.Codebook); i >= 0 {
		return fmt.Errorf("table %q: codebook value %d is %v", name, i, t.Codebook[i])
	}
	if i := FirstNonFinite(t.Decoder); i >= 0 {
		return fmt.Errorf("table %q: decoder value %d is %v", name, i, t.Decoder[i])
	}
	return nil
}

// FirstNonFinite is the index of the first NaN or infinity in xs, or -1:
// FORMAT.md refuses them in codebooks, decoders and scales.
func FirstNonFinite(xs []float32) int {
	for i, x := range xs {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return i
		}
	}
	return -1
}

// BuildLUT runs the decoder over every codebook entry and returns a table of
// rows*V floats, rows >= K; rows K..rows-1 are zero so any index reads inside it.
// For an additive table it returns M such tables one after the other
// (codebook m's entry k at (m*rows+k)*V). This is the reference for
// ggml-ext's C version.
func (t *Table) BuildLUT(rows int) []float32 {
	d, h, v := t.Latent, t.Hidden, t.V
	lut := make([]float32, t.M()*rows*v)
	y := make([]float32, d)
	hid := make([]float32, h)
	for e := 0; e < t.M()*t.K; e++ {
		k := e/t.K*rows + e%t.K // row of the output
		copy(y, t.Codebook[e*d:(e+1)*d])
		p := t.Decoder
		for b := 0; b < t.Blocks; b++ {
			w1, c1 := p[:h*d], p[h*d:h*d+h]
			p = p[h*d+h:]
			w2, c2 := p[:d*h], p[d*h:d*h+d]
			p = p[d*h+d:]
			for i := 0; i < h; i++ {
				hid[i] = Gelu(dot(w1[i*d:(i+1)*d], y) + c1[i])
			}
			for i := 0; i < d; i++ {
				y[i] += dot(w2[i*h:(i+1)*h], hid) + c2[i]
			}
		}
		wo, co := p[:v*d], p[v*d:v*d+v]
		for i := 0; i < v; i++ {
			lut[k*v+i] = dot(wo[i*d:(i+1)*d], y) + co[i]
		}
	}
	return lut
}

// Gelu is the exact (erf) GELU in float32.
func Gelu(x float32) float32 {
	return 0.5 * x * (1 + float32(math.Erf(float64(x)/math.Sqrt2)))
}

func dot(a, b []float32) float32 {
	var s float32
	for i := range a {
		// float32(...) forbids fusing into an FMA (Go fuses on arm64), so the
		// table has the same bits on every platform and files stay deterministic.
		s += float32(a[i] * b[i])
	}
	return s
}
