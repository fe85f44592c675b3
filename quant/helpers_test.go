package quant

import (
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// gaussMatrix is a rows x cols matrix of N(0, 1) values times a per-row
// scale drawn from [0.5, 2), like rows of a real weight.
func gaussMatrix(name string, rows, cols int, seed uint64) Matrix {
	rng := rand.New(rand.NewPCG(seed, 1))
	m := Matrix{Name: name, Rows: rows, Cols: cols, Data: make([]float32, rows*cols)}
	for r := 0; r < rows; r++ {
		s := 0.5 + 1.5*rng.Float64()
		for c := 0; c < cols; c++ {
			m.Data[r*cols+c] = float32(s * rng.NormFloat64() * 0.02)
		}
	}
	return m
}

// studentMatrix has Student-t (nu) entries: heavy tails like real weights.
func studentMatrix(name string, rows, cols int, nu float64, seed uint64) Matrix {
	rng := rand.New(rand.NewPCG(seed, 2))
	m := Matrix{Name: name, Rows: rows, Cols: cols, Data: make([]float32, rows*cols)}
	for i := range m.Data {
		var chi float64
		for k := 0; k < int(nu); k++ {
			g := rng.NormFloat64()
			chi += g * g
		}
		m.Data[i] = float32(0.02 * rng.NormFloat64() / math.Sqrt(chi/nu))
	}
	return m
}

// reconstruct rebuilds the weights from an assignment (the FORMAT.md rule).
func reconstruct(lut []float32, v int, m Matrix, a *Assignment) []float32 {
	out := make([]float32, len(m.Data))
	per := m.Cols / v
	for r := 0; r < m.Rows; r++ {
		s := float32(1)
		if a.Scales != nil {
			s = a.Scales[r]
		}
		for j := 0; j < per; j++ {
			id := a.Indices[r*per+j]
			for t := 0; t < v; t++ {
				out[r*m.Cols+j*v+t] = s * lut[int(id)*v+t]
			}
		}
	}
	return out
}

func relRMSE(a, b []float32) float64 {
	var e, r float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		e += d * d
		r += float64(a[i]) * float64(a[i])
	}
	return math.Sqrt(e / r)
}

func splitComma(s string) []string { return strings.Split(s, ",") }

func nowSeconds() float64 { return float64(time.Now().UnixNano()) / 1e9 }
