package format

import (
	"testing"

	"github.com/pocketgguf/pocketgguf/gguf"
)

func kvsSize(kvs []gguf.KV) int64 {
	var n int64
	for _, kv := range kvs {
		n += kv.EncodedSize()
	}
	return n
}

// Every size function equals the size of the keys it stands for.
func TestKeySizes(t *testing.T) {
	if got, want := HeaderKVsSize("kmeans"), kvsSize(HeaderKVs(2, "kmeans", 7)); got != want {
		t.Fatalf("HeaderKVsSize %d, keys %d", got, want)
	}
	for _, tb := range []*Table{
		{V: 4, K: 256, Latent: 4, Sharing: "tensor"},
		{V: 8, K: 16, Latent: 8, Codebooks: 3, Sharing: "model"},
		{V: 4, K: 100, Latent: 6, Blocks: 3, Hidden: 16, Sharing: "kind"},
	} {
		tb.Codebook = make([]float32, tb.M()*tb.K*tb.Latent)
		tb.Decoder = make([]float32, tb.DecoderLen())
		if got, want := TableKVsSize("blk.0.attn_q.weight", tb), kvsSize(TableKVs("blk.0.attn_q.weight", tb)); got != want {
			t.Fatalf("%+v: TableKVsSize %d, keys %d", tb, got, want)
		}
	}
	for _, scale := range []bool{false, true} {
		var s []uint16
		if scale {
			s = make([]uint16, 11)
		}
		if got, want := TensorKVsSize("w", "model.4x8", 11, scale), kvsSize(TensorKVs("w", "model.4x8", s, 0.5)); got != want {
			t.Fatalf("row scales %v: TensorKVsSize %d, keys %d", scale, got, want)
		}
	}
}
