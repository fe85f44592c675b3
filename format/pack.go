package format

import "fmt"

// PackIndices writes the codebook indices of one or more rows in the block
// layout of t. len(idx) must be a multiple of t.VectorsPerBlock().
func PackIndices(t PQType, idx []uint32, dst []byte) {
	switch t.IndexBits {
	case 8:
		for i, x := range idx {
			dst[i] = byte(x)
		}
	case 16:
		for i, x := range idx {
			dst[2*i] = byte(x)
			dst[2*i+1] = byte(x >> 8)
		}
	case 12:
		for i := 0; i+1 < len(idx); i += 2 {
			a, b := idx[i], idx[i+1]
			o := i / 2 * 3
			dst[o] = byte(a)
			dst[o+1] = byte(a>>8&0x0F) | byte(b<<4)
			dst[o+2] = byte(b >> 4)
		}
	default:
		panic(fmt.Sprintf("format: %d-bit indices", t.IndexBits))
	}
}

// UnpackIndices is the inverse of PackIndices: it reads len(idx) indices.
func UnpackIndices(t PQType, src []byte, idx []uint32) {
	switch t.IndexBits {
	case 8:
		for i := range idx {
			idx[i] = uint32(src[i])
		}
	case 16:
		for i := range idx {
			idx[i] = uint32(src[2*i]) | uint32(src[2*i+1])<<8
		}
	case 12:
		for i := 0; i+1 < len(idx); i += 2 {
			o := i / 2 * 3
			idx[i] = uint32(src[o]) | uint32(src[o+1]&0x0F)<<8
			idx[i+1] = uint32(src[o+1]>>4) | uint32(src[o+2])<<4
		}
	default:
		panic(fmt.Sprintf("format: %d-bit indices", t.IndexBits))
	}
}
