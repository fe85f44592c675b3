package quant

import (
	"github.com/pocketgguf/pocketgguf/format"
)

// identityPocketTable wraps k-means centroids (latent = V) in a decoder with
// o.Blocks residual blocks whose output weights are zero and Wo = I: its LUT
// equals the centroids, and W1 is left at zero too (training sets it).
func identityPocketTable(cent []float32, o Options) *format.Table {
	tb := &format.Table{V: o.V, K: o.K, Latent: o.V, Codebook: cent, Blocks: o.Blocks, Hidden: o.Hidden}
	tb.Decoder = make([]float32, tb.DecoderLen())
	off := tb.DecoderLen() - o.V*o.V - o.V
	for i := 0; i < o.V; i++ {
		tb.Decoder[off+i*o.V+i] = 1
	}
	return tb
}
