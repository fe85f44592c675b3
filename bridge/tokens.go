package bridge

// #include <stdlib.h>
// #include "native.h"
import "C"

import (
	"fmt"
	"math"
	"unsafe"
)

// Token is a vocabulary id (llama_token).
type Token = int32

// Tokenize converts text to tokens. addSpecial adds BOS/EOS as the model's
// metadata asks; parseSpecial turns the text of control tokens (e.g. "<s>")
// into those tokens instead of treating it as plain text.
func (m *Model) Tokenize(text string, addSpecial, parseSpecial bool) ([]Token, error) {
	var out []Token
	err := m.withVocab(func(v *C.struct_llama_vocab) error {
		ctext := C.CString(text)
		defer C.free(unsafe.Pointer(ctext))
		buf := make([]Token, len(text)+2)
		for {
			var p *C.llama_token
			if len(buf) > 0 {
				p = (*C.llama_token)(unsafe.Pointer(&buf[0]))
			}
			n := int(C.llama_tokenize(v, ctext, C.int32_t(len(text)), p, C.int32_t(len(buf)), C.bool(addSpecial), C.bool(parseSpecial)))
			if n == math.MinInt32 { // overflow
				return fmt.Errorf("tokenize: text of %d bytes gives too many tokens", len(text))
			}
			if n >= 0 {
				out = buf[:n]
				return nil
			}
			buf = make([]Token, -n)
		}
	})
	return out, err
}

// Detokenize converts tokens back to text. removeSpecial drops BOS/EOS where the
// model adds them; unparseSpecial renders control tokens as their text.
func (m *Model) Detokenize(tokens []Token, removeSpecial, unparseSpecial bool) (string, error) {
	var out string
	err := m.withVocab(func(v *C.struct_llama_vocab) error {
		if err := checkTokens(v, tokens); err != nil {
			return err
		}
		if len(tokens) == 0 {
			return nil
		}
		buf := make([]byte, 8*len(tokens)+16)
		for {
			n := int(C.llama_detokenize(v, (*C.llama_token)(unsafe.Pointer(&tokens[0])), C.int32_t(len(tokens)),
				(*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(len(buf)), C.bool(removeSpecial), C.bool(unparseSpecial)))
			if n >= 0 {
				out = string(buf[:n])
				return nil
			}
			buf = make([]byte, -n)
		}
	})
	return out, err
}

// TokenToPiece returns the text of one token (bytes, possibly an incomplete
// UTF-8 sequence for byte-fallback tokens). Control tokens give "" unless special.
func (m *Model) TokenToPiece(tok Token, special bool) ([]byte, error) {
	var out []byte
	err := m.withVocab(func(v *C.struct_llama_vocab) error {
		if err := checkTokens(v, []Token{tok}); err != nil {
			return err
		}
		out = tokenToPiece(v, tok, special)
		return nil
	})
	return out, err
}

func tokenToPiece(v *C.struct_llama_vocab, tok Token, special bool) []byte {
	buf := make([]byte, 32)
	for {
		n := int(C.llama_token_to_piece(v, C.llama_token(tok), (*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(len(buf)), 0, C.bool(special)))
		if n >= 0 {
			return buf[:n]
		}
		buf = make([]byte, -n)
	}
}

func checkTokens(v *C.struct_llama_vocab, tokens []Token) error {
	n := Token(C.llama_vocab_n_tokens(v))
	for i, t := range tokens {
		if t < 0 || t >= n {
			return fmt.Errorf("token %d at index %d is outside the vocabulary [0,%d)", t, i, n)
		}
	}
	return nil
}

// BOS is the beginning-of-sequence token, or -1 if the model has none.
func (m *Model) BOS() Token {
	t := Token(-1)
	m.withVocab(func(v *C.struct_llama_vocab) error { t = Token(C.llama_vocab_bos(v)); return nil })
	return t
}

// EOS is the end-of-sequence token, or -1 if the model has none.
func (m *Model) EOS() Token {
	t := Token(-1)
	m.withVocab(func(v *C.struct_llama_vocab) error { t = Token(C.llama_vocab_eos(v)); return nil })
	return t
}

// IsEOG reports whether tok ends generation (EOS, EOT, ...).
func (m *Model) IsEOG(tok Token) bool {
	r := false
	m.withVocab(func(v *C.struct_llama_vocab) error { r = bool(C.llama_vocab_is_eog(v, C.llama_token(tok))); return nil })
	return r
}
