package e2e

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"strings"
	"testing"

	fsggml "github.com/ollama/ollama/fs/ggml"
	"github.com/x448/float16"
)

// writeQ4_0Twin writes a copy of the F32 GGUF in whose 2-D weights are Q4_0
// (ggml's quantize_row_q4_0_ref) where their rows divide into 32-weight blocks,
// the rest unchanged: the "Q4_0 twin" the README's speed table compares with.
// Written here because neither tool at hand makes one for stories260K:
// llama_model_quantize refuses Q4_0 for its 172-wide ffn_down (no fallback for
// Q4_0), and `ollama create --quantize` offers only Q4_K_S, Q4_K_M and Q8_0.
func writeQ4_0Twin(t testing.TB, in, out string) {
	t.Helper()
	r, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	g, err := fsggml.Decode(r, -1)
	if err != nil {
		t.Fatalf("%s: %v", in, err)
	}
	var ts []*fsggml.Tensor
	for _, ti := range g.Tensors().Items() {
		if ti.Kind != uint32(fsggml.TensorTypeF32) {
			t.Fatalf("%s: tensor %s is %s, want F32", in, ti.Name, ti.Type())
		}
		data := make([]byte, ti.Size())
		if _, err := r.ReadAt(data, int64(g.Tensors().Offset+ti.Offset)); err != nil {
			t.Fatalf("%s: reading %s: %v", in, ti.Name, err)
		}
		nt := &fsggml.Tensor{Name: ti.Name, Kind: ti.Kind, Shape: ti.Shape, WriterTo: bytes.NewReader(data)}
		if len(ti.Shape) == 2 && ti.Shape[0]%32 == 0 && strings.HasSuffix(ti.Name, ".weight") && !strings.Contains(ti.Name, "norm") {
			x := make([]float32, len(data)/4)
			binary.Read(bytes.NewReader(data), binary.LittleEndian, x)
			nt.Kind = uint32(fsggml.TensorTypeQ4_0)
			nt.WriterTo = bytes.NewReader(quantizeQ4_0(x))
		}
		ts = append(ts, nt)
	}
	kv := g.KV()
	kv["general.file_type"] = uint32(2) // LLAMA_FTYPE_MOSTLY_Q4_0
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := fsggml.WriteGGUF(f, kv, ts); err != nil {
		t.Fatalf("writing %s: %v", out, err)
	}
}

// quantizeQ4_0 is ggml's quantize_row_q4_0_ref: per 32 weights an f16 scale
// d = max/-8 (max: the value of largest magnitude) and 4-bit q = x/d + 8, the
// first 16 weights in the low nibbles, the next 16 in the high ones.
func quantizeQ4_0(x []float32) []byte {
	const qk = 32
	out := make([]byte, 0, len(x)/qk*18)
	for b := 0; b < len(x); b += qk {
		blk := x[b : b+qk]
		var amax, max float32
		for _, v := range blk {
			if a := float32(math.Abs(float64(v))); a > amax {
				amax, max = a, v
			}
		}
		d := max / -8
		var id float32
		if d != 0 {
			id = 1 / d
		}
		out = binary.LittleEndian.AppendUint16(out, float16.Fromfloat32(d).Bits())
		for j := 0; j < qk/2; j++ {
			q0 := min(15, int8(blk[j]*id+8.5))
			q1 := min(15, int8(blk[qk/2+j]*id+8.5))
			out = append(out, byte(q0)|byte(q1)<<4)
		}
	}
	return out
}

// dequantizeQ4_0 is ggml's dequantize_row_q4_0.
func dequantizeQ4_0(b []byte) []float32 {
	var y []float32
	for ; len(b) >= 18; b = b[18:] {
		d := float16.Frombits(binary.LittleEndian.Uint16(b)).Float32()
		var blk [32]float32
		for j := 0; j < 16; j++ {
			blk[j] = float32(int(b[2+j]&0x0F)-8) * d
			blk[16+j] = float32(int(b[2+j]>>4)-8) * d
		}
		y = append(y, blk[:]...)
	}
	return y
}

// Every weight comes back within half a quantization step (a whole one where
// the top code clips it; plus the f16 rounding of d), and the largest one
// exactly: what Q4_0 promises.
func TestQuantizeQ4_0(t *testing.T) {
	x := make([]float32, 4*32)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*0.7)) * float32(1+i%5)
	}
	y := dequantizeQ4_0(quantizeQ4_0(x))
	if len(y) != len(x) {
		t.Fatalf("%d values back, want %d", len(y), len(x))
	}
	for b := 0; b < len(x); b += 32 {
		var amax float64
		for _, v := range x[b : b+32] {
			amax = math.Max(amax, math.Abs(float64(v)))
		}
		step := amax / 8
		for i := b; i < b+32; i++ {
			// q = 15 is the top code, so the side opposite the max reaches only 7 steps
			bound := step / 2
			if math.Abs(float64(x[i])) > 7*step {
				bound = step
			}
			if e := math.Abs(float64(x[i] - y[i])); e > bound+amax*1e-3 {
				t.Fatalf("weight %d: %g back as %g (step %g)", i, x[i], y[i], step)
			}
			if math.Abs(float64(x[i])) == amax && math.Abs(float64(x[i]-y[i])) > amax*1e-3 {
				t.Fatalf("block max %g back as %g", x[i], y[i])
			}
		}
	}
}
