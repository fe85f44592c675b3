package quant

import (
	"math"

	"github.com/pocketgguf/pocketgguf/format"
)

// decoderNet views a table's flat decoder parameters (FORMAT.md order: per
// block W1 h×d, c1 h, W2 d×h, c2 d; then Wo v×d, co v) and runs the decoder
// forward and backward on one latent code. Hand-written because the net is
// tiny (h = 16, d = v <= 8): a tensor library would cost more in call
// overhead than the arithmetic.
type decoderNet struct {
	v, d, h, blocks int
}

func netOf(tb *format.Table) decoderNet {
	return decoderNet{v: tb.V, d: tb.Latent, h: tb.Hidden, blocks: tb.Blocks}
}

func (n decoderNet) blockLen() int { return 2*n.h*n.d + n.h + n.d }

// decoderTape holds one code's activations for the backward pass.
type decoderTape struct {
	ys []float32 // (blocks+1)*d: input of every block, then the final y
	as []float32 // blocks*h: pre-activations
	gs []float32 // blocks*h: GELU outputs
	dy []float32 // d scratch
	dg []float32 // h scratch
}

func (n decoderNet) newTape() *decoderTape {
	return &decoderTape{
		ys: make([]float32, (n.blocks+1)*n.d),
		as: make([]float32, n.blocks*n.h),
		gs: make([]float32, n.blocks*n.h),
		dy: make([]float32, n.d),
		dg: make([]float32, n.h),
	}
}

// forward decodes code c (d values) into out (v values), recording the tape.
// Same arithmetic as format.Table.BuildLUT.
func (n decoderNet) forward(p, c, out []float32, tp *decoderTape) {
	d, h := n.d, n.h
	copy(tp.ys[:d], c)
	for b := 0; b < n.blocks; b++ {
		blk := p[b*n.blockLen():]
		w1, c1 := blk[:h*d], blk[h*d:h*d+h]
		w2, c2 := blk[h*d+h:h*d+h+d*h], blk[h*d+h+d*h:h*d+h+d*h+d]
		y, ny := tp.ys[b*d:(b+1)*d], tp.ys[(b+1)*d:(b+2)*d]
		a, g := tp.as[b*h:(b+1)*h], tp.gs[b*h:(b+1)*h]
		for i := 0; i < h; i++ {
			a[i] = dot32(w1[i*d:(i+1)*d], y) + c1[i]
			g[i] = format.Gelu(a[i])
		}
		for i := 0; i < d; i++ {
			ny[i] = y[i] + (dot32(w2[i*h:(i+1)*h], g) + c2[i]) // BuildLUT order
		}
	}
	wo := p[n.blocks*n.blockLen():]
	co := wo[n.v*d:]
	y := tp.ys[n.blocks*d:]
	for i := 0; i < n.v; i++ {
		out[i] = dot32(wo[i*d:(i+1)*d], y) + co[i]
	}
}

// backward adds d(loss)/d(params) to gp and writes d(loss)/d(code) to gc,
// given dout = d(loss)/d(out) and the tape of forward.
func (n decoderNet) backward(p, gp, dout, gc []float32, tp *decoderTape) {
	d, h := n.d, n.h
	off := n.blocks * n.blockLen()
	wo := p[off:]
	gwo, gco := gp[off:off+n.v*d], gp[off+n.v*d:off+n.v*d+n.v]
	y := tp.ys[n.blocks*d:]
	dy := tp.dy
	clear(dy)
	for i := 0; i < n.v; i++ {
		gco[i] += dout[i]
		for j := 0; j < d; j++ {
			gwo[i*d+j] += dout[i] * y[j]
			dy[j] += dout[i] * wo[i*d+j]
		}
	}
	for b := n.blocks - 1; b >= 0; b-- {
		o := b * n.blockLen()
		w1, w2 := p[o:o+h*d], p[o+h*d+h:o+h*d+h+d*h]
		gw1, gc1 := gp[o:o+h*d], gp[o+h*d:o+h*d+h]
		gw2, gc2 := gp[o+h*d+h:o+h*d+h+d*h], gp[o+h*d+h+d*h:o+h*d+h+d*h+d]
		yin := tp.ys[b*d : (b+1)*d]
		a, g := tp.as[b*h:(b+1)*h], tp.gs[b*h:(b+1)*h]
		dg := tp.dg
		clear(dg)
		for i := 0; i < d; i++ { // y_out = y_in + W2 g + c2
			gc2[i] += dy[i]
			for j := 0; j < h; j++ {
				gw2[i*h+j] += dy[i] * g[j]
				dg[j] += dy[i] * w2[i*h+j]
			}
		}
		for j := 0; j < h; j++ { // g = gelu(a), a = W1 y_in + c1
			da := dg[j] * geluGrad(a[j])
			gc1[j] += da
			for k := 0; k < d; k++ {
				gw1[j*d+k] += da * yin[k]
				dy[k] += da * w1[j*d+k] // residual path already in dy
			}
		}
	}
	copy(gc, dy)
}

// geluGrad is d/dx of the exact GELU: Φ(x) + x·φ(x).
func geluGrad(x float32) float32 {
	xf := float64(x)
	return float32(0.5*(1+math.Erf(xf/math.Sqrt2)) + xf*math.Exp(-0.5*xf*xf)/math.Sqrt(2*math.Pi))
}

func dot32(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// identityPocketTable wraps k-means centroids (latent = V) in a decoder with
// o.Blocks residual blocks and Wo = I. W1 is small and random, W2 zero, so
// the LUT equals the centroids and training starts at k-means quality while
// W2's gradient is non-zero.
func identityPocketTable(cent []float32, o Options, rnd func() float64) *format.Table {
	tb := &format.Table{V: o.V, K: o.K, Latent: o.V, Codebook: cent, Blocks: o.Blocks, Hidden: o.Hidden}
	tb.Decoder = make([]float32, tb.DecoderLen())
	n := netOf(tb)
	for b := 0; b < n.blocks; b++ {
		w1 := tb.Decoder[b*n.blockLen() : b*n.blockLen()+n.h*n.d]
		for i := range w1 {
			w1[i] = float32(rnd() / math.Sqrt(float64(n.d)))
		}
	}
	off := n.blocks * n.blockLen()
	for i := 0; i < o.V; i++ {
		tb.Decoder[off+i*o.V+i] = 1
	}
	return tb
}
