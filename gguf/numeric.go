package gguf

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/x448/float16"
)

// QK8_0 is the block size of Q8_0: one f16 scale d and 32 int8 weights.
const QK8_0 = 32

// HalfToFloat converts IEEE half bits to float32.
func HalfToFloat(h uint16) float32 { return float16.Frombits(h).Float32() }

// FloatToHalf converts to IEEE half bits, rounding to nearest even as F16C does.
func FloatToHalf(x float32) uint16 { return float16.Fromfloat32(x).Bits() }

// BF16ToFloat widens bfloat16 bits.
func BF16ToFloat(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// FloatToBF16 rounds to nearest even like ggml_compute_fp32_to_bf16 (NaN kept quiet).
func FloatToBF16(x float32) uint16 {
	u := math.Float32bits(x)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 64
	}
	return uint16((u + (0x7fff + (u >> 16 & 1))) >> 16)
}

// ToFloat32 converts n weights of type t to float32.
func ToFloat32(t Type, raw []byte, n int) ([]float32, error) {
	ti, ok := LookupType(t)
	if !ok {
		return nil, fmt.Errorf("unknown ggml type %d", uint32(t))
	}
	if n%ti.BlockSize != 0 || len(raw) != n/ti.BlockSize*ti.TypeSize {
		return nil, fmt.Errorf("%s: %d bytes do not hold %d weights", ti.Name, len(raw), n)
	}
	out := make([]float32, n)
	le := binary.LittleEndian
	switch t {
	case TypeF32:
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
	case TypeF16:
		for i := range out {
			out[i] = HalfToFloat(le.Uint16(raw[2*i:]))
		}
	case TypeBF16:
		for i := range out {
			out[i] = BF16ToFloat(le.Uint16(raw[2*i:]))
		}
	case TypeQ8_0:
		for b := 0; b < n/QK8_0; b++ {
			blk := raw[b*34 : b*34+34]
			d := HalfToFloat(le.Uint16(blk))
			for j := 0; j < QK8_0; j++ {
				out[b*QK8_0+j] = float32(int8(blk[2+j])) * d
			}
		}
	default:
		return nil, fmt.Errorf("cannot convert %s to float (supported: f32, f16, bf16, q8_0)", ti.Name)
	}
	return out, nil
}

// FromFloat32 encodes weights as type t (F32, F16, BF16 or Q8_0).
func FromFloat32(t Type, x []float32) ([]byte, error) {
	le := binary.LittleEndian
	switch t {
	case TypeF32:
		out := make([]byte, 4*len(x))
		for i, v := range x {
			le.PutUint32(out[4*i:], math.Float32bits(v))
		}
		return out, nil
	case TypeF16:
		out := make([]byte, 2*len(x))
		for i, v := range x {
			le.PutUint16(out[2*i:], FloatToHalf(v))
		}
		return out, nil
	case TypeBF16:
		out := make([]byte, 2*len(x))
		for i, v := range x {
			le.PutUint16(out[2*i:], FloatToBF16(v))
		}
		return out, nil
	case TypeQ8_0:
		if len(x)%QK8_0 != 0 {
			return nil, fmt.Errorf("q8_0: %d weights is not a multiple of %d", len(x), QK8_0)
		}
		out := make([]byte, len(x)/QK8_0*34)
		for b := 0; b < len(x)/QK8_0; b++ {
			quantizeQ8_0Block(x[b*QK8_0:(b+1)*QK8_0], out[b*34:(b+1)*34])
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot encode %s from float (supported: f32, f16, bf16, q8_0)", TypeName(t))
}

// quantizeQ8_0Block is ggml's quantize_row_q8_0_ref for one block, step by
// step in float32: d = amax/127 stored as f16, q = roundf(x * (1/d)) where
// the reciprocal is of the unrounded d, as ggml computes it.
func quantizeQ8_0Block(x []float32, dst []byte) {
	var amax float32
	for _, v := range x {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	d := amax / 127
	var id float32
	if d != 0 {
		id = 1 / d
	}
	binary.LittleEndian.PutUint16(dst, FloatToHalf(d))
	for j, v := range x {
		p := v * id
		dst[2+j] = byte(int8(roundf(p)))
	}
}

// roundf rounds half away from zero, as C's roundf.
func roundf(x float32) float32 { return float32(math.Round(float64(x))) }
