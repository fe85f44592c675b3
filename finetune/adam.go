package finetune

import "math"

// paramGroup is one slice of parameters with its gradient and Adam state.
// lr is absolute: the caller scales it by the group's typical magnitude, so
// that codebook entries near 1 and row scales near 0.01 move alike in relative terms.
type paramGroup struct {
	x, g, m, v []float32
	// grad, when g is nil, gives the gradient at each update, given a
	// scratch buffer of len(x) values it may fill and return.
	grad func(buf []float32) []float32
	lr   float64
}

type adam struct {
	groups            []*paramGroup
	beta1, beta2, eps float64
	step              int
	buf               []float32 // grad's scratch, shared by the groups in turn
}

func newAdam() *adam { return &adam{beta1: 0.9, beta2: 0.999, eps: 1e-12} }

// add registers x (with its gradient buffer g) at a step of rel times x's RMS.
func (a *adam) add(x, g []float32, rel float64) {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	rms := math.Sqrt(s / float64(max(1, len(x))))
	if rms == 0 {
		rms = 1
	}
	a.groups = append(a.groups, &paramGroup{x: x, g: g, m: make([]float32, len(x)), v: make([]float32, len(x)), lr: rel * rms})
}

// addFrom is add with a gradient that grad gives at each update (read from
// where it was computed) instead of one kept in a buffer.
func (a *adam) addFrom(x []float32, grad func(buf []float32) []float32, rel float64) {
	a.add(x, nil, rel)
	a.groups[len(a.groups)-1].grad = grad
}

// update takes one Adam step with the learning rates multiplied by mult.
func (a *adam) update(mult float64) {
	a.step++
	c1 := 1 - math.Pow(a.beta1, float64(a.step))
	c2 := 1 - math.Pow(a.beta2, float64(a.step))
	for _, p := range a.groups {
		lr := p.lr * mult
		grad := p.g
		if p.grad != nil {
			if cap(a.buf) < len(p.x) {
				a.buf = make([]float32, len(p.x))
			}
			grad = p.grad(a.buf[:len(p.x)])
		}
		for i, g := range grad {
			m := a.beta1*float64(p.m[i]) + (1-a.beta1)*float64(g)
			v := a.beta2*float64(p.v[i]) + (1-a.beta2)*float64(g)*float64(g)
			p.m[i], p.v[i] = float32(m), float32(v)
			p.x[i] -= float32(lr * (m / c1) / (math.Sqrt(v/c2) + a.eps))
		}
	}
}
