package llamasrc

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pocketgguf/pocketgguf/bridge"
	"github.com/pocketgguf/pocketgguf/eval"
)

// CollectImatrix gathers llama-imatrix statistics of model over text:
// non-overlapping chunks of nctx tokens, each starting with BOS when the
// vocabulary adds one, at most chunks of them (0: all).
func CollectImatrix(model, text string, nctx, chunks, threads int, progress func(done, total int)) (map[string][]float32, error) {
	im := bridge.NewImatrix()
	if err := CollectInputStats(model, text, im, nctx, chunks, threads, progress); err != nil {
		return nil, err
	}
	return im.Means(), nil
}

// CollectInputStats is CollectImatrix into a caller's accumulator, so that
// one with CovMaxCols set also gathers full input covariances.
func CollectInputStats(model, text string, im *bridge.Imatrix, nctx, chunks, threads int, progress func(done, total int)) error {
	s, err := Open(model, nctx, threads)
	if err != nil {
		return err
	}
	defer s.Close()
	seqs, err := s.chunks(text, nctx, chunks)
	if err != nil {
		return err
	}
	for c, chunk := range seqs {
		if err := s.c.CollectImatrix(chunk, im); err != nil {
			return fmt.Errorf("imatrix chunk %d: %w", c+1, err)
		}
		if progress != nil {
			progress(c+1, len(seqs))
		}
	}
	return nil
}

// QuantizeFile is one stock llama.cpp quantization and what it produced.
type QuantizeFile struct {
	FType string        `json:"ftype"`
	Info  eval.FileInfo `json:"file"`
}

// QuantizeStock quantizes base to ftype with llama_model_quantize into
// outDir/<base name>-<FTYPE>.gguf and reads back what llama.cpp chose.
// imatrix (may be nil) is used as llama-quantize --imatrix would.
func QuantizeStock(base, outDir, ftype string, imatrix map[string][]float32, threads int) (QuantizeFile, error) {
	ft := strings.ToUpper(ftype)
	if _, err := bridge.ParseFType(ft); err != nil {
		return QuantizeFile{}, err
	}
	if bridge.FTypeNeedsImatrix(ft) && len(imatrix) == 0 {
		return QuantizeFile{}, fmt.Errorf("%s needs an importance matrix", ft)
	}
	name := strings.TrimSuffix(filepath.Base(base), ".gguf") + "-" + ft + ".gguf"
	out := filepath.Join(outDir, name)
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return QuantizeFile{}, err
	}
	p := bridge.QuantizeParams{FType: ft, Threads: threads, Imatrix: imatrix}
	if err := bridge.QuantizeModel(base, out, p); err != nil {
		if strings.Contains(err.Error(), "Unsupported tensor size") {
			return QuantizeFile{}, fmt.Errorf("llama.cpp cannot make %s of %s: a tensor's row length is not a multiple of the type's block size, and llama.cpp falls back to another type only from k-, i- and t-quants (%w)", ft, base, err)
		}
		return QuantizeFile{}, err
	}
	fi, err := eval.ReadFileInfo(out)
	if err != nil {
		return QuantizeFile{}, err
	}
	return QuantizeFile{FType: ft, Info: fi}, nil
}

// TokenChunks tokenizes text with model's vocabulary into the chunks
// CollectInputStats reads (Model.chunks), for fine-tuning on the same text.
func TokenChunks(model, text string, nctx, chunks int) ([][]int32, error) {
	s, err := Open(model, nctx, 1)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.chunks(text, nctx, chunks)
}

// chunks splits text's tokens into at most chunks (0: all) non-overlapping
// sequences of nctx tokens, each starting with BOS when the vocabulary adds one.
func (s *Model) chunks(text string, nctx, chunks int) ([][]int32, error) {
	toks, err := s.Tokenize(text)
	if err != nil {
		return nil, err
	}
	n := len(toks) / nctx
	if chunks > 0 {
		n = min(n, chunks)
	}
	if n == 0 {
		return nil, fmt.Errorf("calibration text has %d tokens, fewer than one chunk of %d", len(toks), nctx)
	}
	out := make([][]int32, n)
	for c := range out {
		out[c] = append([]int32(nil), toks[c*nctx:(c+1)*nctx]...)
		if s.addBOS {
			out[c][0] = s.bos
		}
	}
	return out, nil
}
