package eval

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
)

// Encoding is how the base model's log-probabilities are kept between the
// base pass and the test passes.
type Encoding int

const (
	// EncF32 keeps every log-probability as float32: exact enough that a
	// model compared with itself gives KLD 0 to 1e-7.
	EncF32 Encoding = iota
	// EncU16 is llama-perplexity's kld-file encoding: logits clamped to
	// [max−16, max], 16-bit codes on a linear scale; half the memory.
	EncU16
)

func (e Encoding) String() string { return [...]string{"f32", "u16"}[e] }

// rowMeta is kept exactly whatever the encoding: the true token's base
// NLL and the base argmax, so PPL(base) and same-top-1 are not rounded.
type rowMeta struct {
	nllBase float64
	argmax  int32
}

// baseStore holds one row per scored position, in memory or, when that
// would pass the memory budget, in an unlinked temporary file.
type baseStore struct {
	enc      Encoding
	nv       int
	rowBytes int
	mem      []byte
	file     *os.File
	fileLen  int64
	meta     []rowMeta
}

func (e Encoding) rowBytes(nv int) int {
	if e == EncF32 {
		return 4 * nv
	}
	return 8 + 2*nv
}

// newBaseStore picks f32 in memory, else u16 in memory, else u16 on disk,
// for rows scored positions of nv logits within maxBytes of memory.
func newBaseStore(rows, nv int, maxBytes int64, force *Encoding) (*baseStore, error) {
	s := &baseStore{nv: nv}
	need := func(e Encoding) int64 { return int64(rows) * int64(e.rowBytes(nv)) }
	switch {
	case force != nil:
		s.enc = *force
	case need(EncF32) <= maxBytes:
		s.enc = EncF32
	default:
		s.enc = EncU16
	}
	s.rowBytes = s.enc.rowBytes(nv)
	if need(s.enc) <= maxBytes {
		s.mem = make([]byte, 0, need(s.enc))
		return s, nil
	}
	f, err := os.CreateTemp("", "pocketgguf-kld-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("base log-probs do not fit in %d bytes and no temp file: %w", maxBytes, err)
	}
	os.Remove(f.Name()) // unlinked: the OS frees it however we exit
	s.file = f
	return s, nil
}

func (s *baseStore) Close() error {
	if s.file != nil {
		return s.file.Close()
	}
	return nil
}

// put encodes one row of base logits whose true next token is tok.
func (s *baseStore) put(logits []float32, tok int32, buf []byte) error {
	lse, am := logSumExp(logits)
	s.meta = append(s.meta, rowMeta{nllBase: lse - float64(logits[tok]), argmax: int32(am)})
	buf = buf[:s.rowBytes]
	if s.enc == EncF32 {
		for i, v := range logits {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(float32(float64(v)-lse)))
		}
	} else {
		encodeU16(buf, logits, lse)
	}
	if s.file == nil {
		s.mem = append(s.mem, buf...)
		return nil
	}
	if _, err := s.file.WriteAt(buf, s.fileLen); err != nil {
		return fmt.Errorf("writing base log-probs to temp file: %w", err)
	}
	s.fileLen += int64(len(buf))
	return nil
}

// encodeU16 is perplexity.cpp's log_softmax(..., uint16_t *log_prob, ...):
// scale and minimum log-prob as two float32, then one code per logit.
func encodeU16(buf []byte, logits []float32, lse float64) {
	mx, mn := logits[0], logits[0]
	for _, v := range logits {
		mx, mn = max(mx, v), min(mn, v)
	}
	mn = max(mn, mx-16)
	scale := (mx - mn) / 65535
	minLogProb := float32(float64(mn) - lse)
	binary.LittleEndian.PutUint32(buf[0:], math.Float32bits(scale))
	binary.LittleEndian.PutUint32(buf[4:], math.Float32bits(minLogProb))
	codes := buf[8:]
	for i, v := range logits {
		var c uint16
		if scale != 0 && v > mn {
			c = uint16(math.RoundToEven(float64((v - mn) / scale)))
		}
		binary.LittleEndian.PutUint16(codes[2*i:], c)
	}
}

// floor is the log-prob at or below which a base entry is left out of the
// KLD sum: none for f32; −16 for u16 as perplexity.cpp does, because codes
// of 0 stand for everything under the clamp.
func (s *baseStore) floor() float64 {
	if s.enc == EncF32 {
		return math.Inf(-1)
	}
	return -16
}

// get decodes row r into dst (nv log-probs); buf is scratch of rowBytes.
func (s *baseStore) get(r int, dst []float32, buf []byte) error {
	buf = buf[:s.rowBytes]
	if s.file == nil {
		copy(buf, s.mem[r*s.rowBytes:])
	} else if _, err := s.file.ReadAt(buf, int64(r)*int64(s.rowBytes)); err != nil {
		return fmt.Errorf("reading base log-probs from temp file: %w", err)
	}
	if s.enc == EncF32 {
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
		}
		return nil
	}
	scale := math.Float32frombits(binary.LittleEndian.Uint32(buf[0:]))
	minLogProb := math.Float32frombits(binary.LittleEndian.Uint32(buf[4:]))
	for i := range dst {
		dst[i] = scale*float32(binary.LittleEndian.Uint16(buf[8+2*i:])) + minLogProb
	}
	return nil
}
