package quant

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/x448/float16"
)

// Samples are training sub-vectors (already divided by their row scale) with
// per-element weights. X holds n*V values; W is nil (all weights 1) or has
// the same length as X.
type Samples struct {
	V int
	X []float32
	W []float32
}

// Len is the number of sub-vectors.
func (s *Samples) Len() int {
	if s.V == 0 {
		return 0
	}
	return len(s.X) / s.V
}

// Append adds o's sub-vectors (for a table shared by several tensors). A nil
// W on one side and not the other becomes explicit ones.
func (s *Samples) Append(o Samples) {
	if s.V == 0 {
		s.V = o.V
	}
	if s.W != nil || o.W != nil {
		if s.W == nil {
			s.W = ones(len(s.X))
		}
		ow := o.W
		if ow == nil {
			ow = ones(len(o.X))
		}
		s.W = append(s.W, ow...)
	}
	s.X = append(s.X, o.X...)
}

func ones(n int) []float32 {
	w := make([]float32, n)
	for i := range w {
		w[i] = 1
	}
	return w
}

// checkMatrix validates shape and values; errors name the tensor and position.
func checkMatrix(m Matrix, v int) error {
	switch {
	case m.Rows < 1 || m.Cols < 1:
		return fmt.Errorf("tensor %q: shape %d x %d is empty", m.Name, m.Rows, m.Cols)
	case len(m.Data) != m.Rows*m.Cols:
		return fmt.Errorf("tensor %q: %d values for shape %d x %d", m.Name, len(m.Data), m.Rows, m.Cols)
	case m.Cols%v != 0:
		return fmt.Errorf("tensor %q: row length %d is not a multiple of the sub-vector length %d", m.Name, m.Cols, v)
	}
	for i, x := range m.Data {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("tensor %q: weight [%d, %d] is %v", m.Name, i/m.Cols, i%m.Cols, x)
		}
	}
	return nil
}

// columnWeights checks importance (per-column, imatrix-style) and returns it
// normalised to mean 1, or nil for uniform weights.
func columnWeights(m Matrix, importance []float32) ([]float32, error) {
	if importance == nil {
		return nil, nil
	}
	if len(importance) != m.Cols {
		return nil, fmt.Errorf("tensor %q: importance has %d values, want one per column (%d)", m.Name, len(importance), m.Cols)
	}
	var sum float64
	for j, x := range importance {
		if !(x >= 0) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("tensor %q: importance of column %d is %v (want finite, >= 0)", m.Name, j, x)
		}
		sum += float64(x)
	}
	if sum == 0 {
		return nil, fmt.Errorf("tensor %q: importance is zero for every column", m.Name)
	}
	mean := sum / float64(len(importance))
	w := make([]float32, len(importance))
	for j, x := range importance {
		w[j] = float32(float64(x) / mean)
	}
	return w, nil
}

// RowScales returns each row's RMS rounded to f16, the scale Sample divides
// by and Assign starts from. A zero row gets scale 0. A row whose RMS is
// beyond the f16 range is an error; one below it gets the smallest f16.
func RowScales(m Matrix) ([]float32, error) {
	if m.Rows < 1 || m.Cols < 1 || len(m.Data) != m.Rows*m.Cols {
		return nil, fmt.Errorf("tensor %q: %d values for shape %d x %d", m.Name, len(m.Data), m.Rows, m.Cols)
	}
	s := make([]float32, m.Rows)
	for r := range s {
		var ss float64
		for _, x := range m.Data[r*m.Cols : (r+1)*m.Cols] {
			ss += float64(x) * float64(x)
		}
		rms := math.Sqrt(ss / float64(m.Cols))
		if math.IsNaN(rms) || math.IsInf(rms, 0) {
			return nil, fmt.Errorf("tensor %q: row %d has non-finite values", m.Name, r)
		}
		f, err := roundScale(rms)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: row %d: %v", m.Name, r, err)
		}
		s[r] = f
	}
	return s, nil
}

// smallestF16 is the smallest positive (subnormal) half-precision value.
var smallestF16 = float16.Frombits(1).Float32()

// roundScale rounds a non-negative scale to the nearest f16.
func roundScale(x float64) (float32, error) {
	if x == 0 {
		return 0, nil
	}
	f := float16.Fromfloat32(float32(x)).Float32()
	if math.IsInf(float64(f), 0) {
		return 0, fmt.Errorf("scale %g does not fit in f16", x)
	}
	if f == 0 {
		f = smallestF16
	}
	return f, nil
}

// Sample returns up to n training sub-vectors of m (n <= 0: opt.TrainVectors
// or its default), chosen by a seeded selection sampling over all sub-vectors
// in row order, divided by their row scale when opt.RowScale is set, with
// per-element weights from importance (per column, nil = uniform).
func Sample(m Matrix, importance []float32, opt Options, n int) (Samples, error) {
	o, err := opt.resolved()
	if err != nil {
		return Samples{}, fmt.Errorf("tensor %q: %v", m.Name, err)
	}
	if err := checkMatrix(m, o.V); err != nil {
		return Samples{}, err
	}
	cw, err := columnWeights(m, importance)
	if err != nil {
		return Samples{}, err
	}
	var scales []float32
	if o.RowScale {
		if scales, err = RowScales(m); err != nil {
			return Samples{}, err
		}
	}
	if n <= 0 {
		n = o.TrainVectors
	}
	v := o.V
	perRow := m.Cols / v
	total := m.Rows * perRow
	if n > total {
		n = total
	}
	s := Samples{V: v, X: make([]float32, 0, n*v)}
	if cw != nil {
		s.W = make([]float32, 0, n*v)
	}
	// Knuth's selection sampling (Algorithm S): exactly n, in order, one pass.
	rng := rand.New(rand.NewPCG(o.Seed, 0x5eed5a3b1e))
	need := n
	for i := 0; i < total && need > 0; i++ {
		if rng.IntN(total-i) >= need {
			continue
		}
		need--
		r, j := i/perRow, i%perRow
		inv := float32(1)
		if scales != nil {
			if scales[r] == 0 {
				inv = 0
			} else {
				inv = 1 / scales[r]
			}
		}
		for _, x := range m.Data[r*m.Cols+j*v : r*m.Cols+j*v+v] {
			s.X = append(s.X, x*inv)
		}
		if cw != nil {
			s.W = append(s.W, cw[j*v:j*v+v]...)
		}
	}
	return s, nil
}
