package finetune

import (
	"math"

	"github.com/pocketgguf/pocketgguf/gguf"
)

// pass holds one sequence's activations for the backward pass, reused across
// sequences of the same length (one pass per worker).
type pass struct {
	c        Config
	T        int
	cos, sin []float32
	layers   []layerCache
	xFinal   []float32 // T x Dim, residual stream after the last block
	rFinal   []float32 // T, 1/rms of xFinal
	nFinal   []float32 // T x Dim, normed (times OutNorm)
	logits   []float32 // T x Vocab
	// backward scratch
	dx, dn, dq, dk, dv, da, dg, du, dh []float32
	dp                                 []float32
}

type layerCache struct {
	x       []float32 // T x Dim, block input
	r1      []float32 // T, 1/rms of x
	n1      []float32 // T x Dim, attn_norm(x)
	q, k, v []float32 // T x Heads*HeadDim, T x KV*HeadDim (q, k after rope)
	p       []float32 // Heads x T x T attention probabilities (lower triangle)
	a       []float32 // T x Dim, attention output before attn_output
	h       []float32 // T x Dim, x + attention
	r2      []float32 // T
	n2      []float32 // T x Dim, ffn_norm(h)
	g, u, s []float32 // T x FF: gate, up, silu(gate)*up
}

func newPass(c Config, T int) *pass {
	kv := c.KVHeads * c.HeadDim
	p := &pass{c: c, T: T, layers: make([]layerCache, c.Layers)}
	p.cos, p.sin = ropeTables(c, T)
	f := func(n int) []float32 { return make([]float32, n) }
	for l := range p.layers {
		p.layers[l] = layerCache{x: f(T * c.Dim), r1: f(T), n1: f(T * c.Dim), q: f(T * c.Dim), k: f(T * kv), v: f(T * kv),
			p: f(c.Heads * T * T), a: f(T * c.Dim), h: f(T * c.Dim), r2: f(T), n2: f(T * c.Dim), g: f(T * c.FF), u: f(T * c.FF), s: f(T * c.FF)}
	}
	p.xFinal, p.rFinal, p.nFinal, p.logits = f(T*c.Dim), f(T), f(T*c.Dim), f(T*c.Vocab)
	p.dx, p.dn, p.dq, p.dk, p.dv, p.da = f(T*c.Dim), f(T*c.Dim), f(T*c.Dim), f(T*kv), f(T*kv), f(T*c.Dim)
	p.dg, p.du, p.dh, p.dp = f(T*c.FF), f(T*c.FF), f(T*c.Dim), f(T)
	return p
}

func dot(a, b []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func axpy(a float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += a * v
	}
}

// linear computes y[t] = W·x[t] for T rows: W is out x in.
func linear(y, x, w []float32, T, in, out int) {
	for t := 0; t < T; t++ {
		xt, yt := x[t*in:(t+1)*in], y[t*out:(t+1)*out]
		for o := 0; o < out; o++ {
			yt[o] = dot(w[o*in:(o+1)*in], xt)
		}
	}
}

// rmsNorm writes n = x/rms(x) * w per row and returns 1/rms in r.
func rmsNorm(n, r, x, w []float32, T, D int, eps float32) {
	for t := 0; t < T; t++ {
		xt := x[t*D : (t+1)*D]
		inv := float32(1 / math.Sqrt(float64(dot(xt, xt)/float32(D)+eps)))
		r[t] = inv
		nt := n[t*D : (t+1)*D]
		for i, v := range xt {
			nt[i] = v * inv * w[i]
		}
	}
}

// rope rotates adjacent pairs of each head's first RopeDims values in place;
// sign -1 applies the inverse rotation (the backward pass).
func (p *pass) rope(x []float32, heads int, sign float32) {
	c := p.c
	half := c.RopeDims / 2
	for t := 0; t < p.T; t++ {
		cs, sn := p.cos[t*half:(t+1)*half], p.sin[t*half:(t+1)*half]
		for h := 0; h < heads; h++ {
			v := x[(t*heads+h)*c.HeadDim:]
			for i := 0; i < half; i++ {
				x0, x1 := v[2*i], v[2*i+1]
				s := sign * sn[i]
				v[2*i], v[2*i+1] = x0*cs[i]-x1*s, x0*s+x1*cs[i]
			}
		}
	}
}

// forward runs tokens through w and leaves the logits (T x Vocab) in p.logits.
func (p *pass) forward(w *Weights, tokens []int32) {
	c, T, D := p.c, p.T, p.c.Dim
	kv := c.KVHeads * c.HeadDim
	x := p.layers[0].x
	for t, tok := range tokens {
		copy(x[t*D:(t+1)*D], w.Embd[int(tok)*D:(int(tok)+1)*D])
	}
	scale := float32(1 / math.Sqrt(float64(c.HeadDim)))
	group := c.Heads / c.KVHeads
	for l := range p.layers {
		L, lc := &w.Layers[l], &p.layers[l]
		rmsNorm(lc.n1, lc.r1, lc.x, L.AttnNorm, T, D, c.Eps)
		linear(lc.q, lc.n1, L.Q, T, D, D)
		linear(lc.k, lc.n1, L.K, T, D, kv)
		linear(lc.v, lc.n1, L.V, T, D, kv)
		p.rope(lc.q, c.Heads, 1)
		p.rope(lc.k, c.KVHeads, 1)
		for h := 0; h < c.Heads; h++ {
			kh := h / group
			for t := 0; t < T; t++ {
				q := lc.q[(t*c.Heads+h)*c.HeadDim : (t*c.Heads+h+1)*c.HeadDim]
				pr := lc.p[(h*T+t)*T : (h*T+t)*T+t+1]
				mx := float32(math.Inf(-1))
				for s := 0; s <= t; s++ {
					pr[s] = scale * dot(q, lc.k[(s*c.KVHeads+kh)*c.HeadDim:(s*c.KVHeads+kh+1)*c.HeadDim])
					mx = max(mx, pr[s])
				}
				var sum float32
				for s := range pr {
					pr[s] = float32(math.Exp(float64(pr[s] - mx)))
					sum += pr[s]
				}
				a := lc.a[(t*c.Heads+h)*c.HeadDim : (t*c.Heads+h+1)*c.HeadDim]
				clear(a)
				for s := range pr {
					pr[s] /= sum
					axpy(pr[s], lc.v[(s*c.KVHeads+kh)*c.HeadDim:(s*c.KVHeads+kh+1)*c.HeadDim], a)
				}
			}
		}
		linear(lc.h, lc.a, L.O, T, D, D)
		for i := range lc.h {
			lc.h[i] += lc.x[i]
		}
		rmsNorm(lc.n2, lc.r2, lc.h, L.FFNNorm, T, D, c.Eps)
		linear(lc.g, lc.n2, L.Gate, T, D, c.FF)
		linear(lc.u, lc.n2, L.Up, T, D, c.FF)
		for i, g := range lc.g {
			lc.s[i] = silu(g) * lc.u[i]
		}
		out := p.xFinal
		if l+1 < c.Layers {
			out = p.layers[l+1].x
		}
		linear(out, lc.s, L.Down, T, c.FF, D)
		for i := range out {
			out[i] += lc.h[i]
		}
	}
	rmsNorm(p.nFinal, p.rFinal, p.xFinal, w.OutNorm, T, D, c.Eps)
	linear(p.logits, p.nFinal, w.Output, T, D, c.Vocab)
}

func silu(x float32) float32 { return x / (1 + float32(math.Exp(float64(-x)))) }

// Logits runs tokens through w from position 0 and returns every position's
// logits (T x Vocab): the reference tests hold against llama.cpp's.
func Logits(c Config, w *Weights, tokens []int32) []float32 {
	p := newPass(c, len(tokens))
	p.forward(w, tokens)
	return p.logits
}

// LoadModel reads a dense Llama GGUF (f32, f16, bf16 or q8_0 weights).
func LoadModel(g *gguf.File) (Config, *Weights, error) {
	c, err := ReadConfig(g)
	if err != nil {
		return c, nil, err
	}
	w := NewWeights(c, !HasOutput(g))
	return c, w, w.Load(g, nil)
}
