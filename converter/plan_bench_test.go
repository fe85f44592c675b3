package converter

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/pocketgguf/pocketgguf/gguf"
)

// sparse7B writes the header of a 32-layer Llama-2-7B-shaped F16 GGUF and
// leaves its 13 GB of data as a hole (a sparse file), for planner timing.
func sparse7B(b *testing.B) string {
	kvs := []gguf.KV{{Key: "general.architecture", Value: gguf.Str("llama")}}
	d, f, v := uint64(4096), uint64(11008), uint64(32000)
	ts := []gguf.TensorInfo{{Name: "token_embd.weight", Shape: []uint64{d, v}, Type: gguf.TypeF16},
		{Name: "output_norm.weight", Shape: []uint64{d}, Type: gguf.TypeF32}, {Name: "output.weight", Shape: []uint64{d, v}, Type: gguf.TypeF16}}
	for l := 0; l < 32; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		for _, s := range []struct {
			n  string
			sh []uint64
		}{{"attn_q.weight", []uint64{d, d}}, {"attn_k.weight", []uint64{d, d}}, {"attn_v.weight", []uint64{d, d}}, {"attn_output.weight", []uint64{d, d}},
			{"attn_norm.weight", []uint64{d}}, {"ffn_gate.weight", []uint64{d, f}}, {"ffn_down.weight", []uint64{f, d}}, {"ffn_up.weight", []uint64{d, f}}, {"ffn_norm.weight", []uint64{d}}} {
			ty := gguf.TypeF16
			if len(s.sh) == 1 {
				ty = gguf.TypeF32
			}
			ts = append(ts, gguf.TensorInfo{Name: p + s.n, Shape: s.sh, Type: ty})
		}
	}
	p := filepath.Join(b.TempDir(), "sparse.gguf")
	fh, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	defer fh.Close()
	w, err := gguf.NewWriter(fh, kvs, ts)
	if err != nil {
		b.Fatal(err)
	}
	if err := fh.Truncate(w.FileSize()); err != nil {
		b.Fatal(err)
	}
	hdr, err := w.Header(kvs)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := fh.WriteAt(hdr, 0); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkPlanLlama7B times the allocator (and its calibration reads) on
// the tensor list of Llama-2-7B; the data is zeros, so this measures the
// search, not the estimates.
func BenchmarkPlanLlama7B(b *testing.B) {
	p := sparse7B(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g, err := gguf.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		plan, err := MakePlan(context.Background(), g, &Options{BPW: 2.5})
		g.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(plan.Groups)), "tables")
	}
}
