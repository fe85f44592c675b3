package finetune

import "math"

// linearBack adds dx[t] += Wᵀ·dy[t] (when dx is not nil) and gw += dy[t]·x[t]ᵀ.
func linearBack(dx, dy, x, w, gw []float32, T, in, out int) {
	for t := 0; t < T; t++ {
		xt, dyt := x[t*in:(t+1)*in], dy[t*out:(t+1)*out]
		var dxt []float32
		if dx != nil {
			dxt = dx[t*in : (t+1)*in]
		}
		for o, d := range dyt {
			if d == 0 {
				continue
			}
			if dxt != nil {
				axpy(d, w[o*in:(o+1)*in], dxt)
			}
			axpy(d, xt, gw[o*in:(o+1)*in])
		}
	}
}

// rmsNormBack adds the gradient of n = x·r·w to dx and gw, given dn.
func rmsNormBack(dx, dn, x, r, w, gw []float32, T, D int) {
	for t := 0; t < T; t++ {
		xt, dnt, dxt := x[t*D:(t+1)*D], dn[t*D:(t+1)*D], dx[t*D:(t+1)*D]
		inv := r[t]
		var s float32
		for i := range xt {
			s += dnt[i] * w[i] * xt[i]
			gw[i] += dnt[i] * xt[i] * inv
		}
		k := s * inv * inv * inv / float32(D)
		for i := range xt {
			dxt[i] += inv*w[i]*dnt[i] - xt[i]*k
		}
	}
}

// backward adds to g the gradient of the loss whose gradient with respect to
// the logits of the last forward pass is in p.logits (overwritten there by the caller).
func (p *pass) backward(w, g *Weights, tokens []int32) {
	c, T, D := p.c, p.T, p.c.Dim
	kv := c.KVHeads * c.HeadDim
	dx, dn := p.dx, p.dn
	clear(dn)
	linearBack(dn, p.logits, p.nFinal, w.Output, g.Output, T, D, c.Vocab)
	clear(dx)
	rmsNormBack(dx, dn, p.xFinal, p.rFinal, w.OutNorm, g.OutNorm, T, D)
	scale := float32(1 / math.Sqrt(float64(c.HeadDim)))
	group := c.Heads / c.KVHeads
	for l := c.Layers - 1; l >= 0; l-- {
		L, G, lc := &w.Layers[l], &g.Layers[l], &p.layers[l]
		// FFN: out = h + Down·(silu(Gate·n2) * Up·n2), n2 = ffn_norm(h).
		dh := p.dh
		copy(dh, dx)
		ds := p.du
		clear(ds)
		linearBack(ds, dx, lc.s, L.Down, G.Down, T, c.FF, D)
		for i, gv := range lc.g {
			sg := 1 / (1 + float32(math.Exp(float64(-gv))))
			p.dg[i] = ds[i] * lc.u[i] * sg * (1 + gv*(1-sg))
			ds[i] *= gv * sg
		}
		clear(dn)
		linearBack(dn, p.dg, lc.n2, L.Gate, G.Gate, T, D, c.FF)
		linearBack(dn, p.du, lc.n2, L.Up, G.Up, T, D, c.FF)
		rmsNormBack(dh, dn, lc.h, lc.r2, L.FFNNorm, G.FFNNorm, T, D)
		// Attention: h = x + O·a.
		copy(dx, dh)
		clear(p.da)
		linearBack(p.da, dh, lc.a, L.O, G.O, T, D, D)
		clear(p.dq)
		clear(p.dk)
		clear(p.dv)
		for h := 0; h < c.Heads; h++ {
			kh := h / group
			for t := 0; t < T; t++ {
				off := (t*c.Heads + h) * c.HeadDim
				q, dq, da := lc.q[off:off+c.HeadDim], p.dq[off:off+c.HeadDim], p.da[off:off+c.HeadDim]
				pr := lc.p[(h*T+t)*T : (h*T+t)*T+t+1]
				dp := p.dp[:t+1]
				var sum float32
				for s := range pr {
					ko := (s*c.KVHeads + kh) * c.HeadDim
					dp[s] = dot(da, lc.v[ko:ko+c.HeadDim])
					axpy(pr[s], da, p.dv[ko:ko+c.HeadDim])
					sum += pr[s] * dp[s]
				}
				for s := range pr {
					ko := (s*c.KVHeads + kh) * c.HeadDim
					d := scale * pr[s] * (dp[s] - sum)
					axpy(d, lc.k[ko:ko+c.HeadDim], dq)
					axpy(d, q, p.dk[ko:ko+c.HeadDim])
				}
			}
		}
		p.rope(p.dq, c.Heads, -1)
		p.rope(p.dk, c.KVHeads, -1)
		clear(dn)
		linearBack(dn, p.dq, lc.n1, L.Q, G.Q, T, D, D)
		linearBack(dn, p.dk, lc.n1, L.K, G.K, T, D, kv)
		linearBack(dn, p.dv, lc.n1, L.V, G.V, T, D, kv)
		rmsNormBack(dx, dn, lc.x, lc.r1, L.AttnNorm, G.AttnNorm, T, D)
	}
	for t, tok := range tokens {
		axpy(1, dx[t*D:(t+1)*D], g.Embd[int(tok)*D:(int(tok)+1)*D])
	}
}
