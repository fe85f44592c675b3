package calib

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/pocketgguf/pocketgguf/gguf"
)

// Load reads a llama.cpp importance matrix: per tensor, the mean
// squared activation of each input column. Two formats: the GGUF one written
// by current llama-imatrix (tensors "<name>.in_sum2" and "<name>.counts") and
// the legacy binary .dat one (entries of name, ncall, values).
func Load(path string) (map[string][]float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--imatrix: %w", err)
	}
	var magic [4]byte
	_, err = io.ReadFull(f, magic[:])
	f.Close()
	if err == nil && string(magic[:]) == gguf.Magic {
		return loadImatrixGGUF(path)
	}
	return loadImatrixLegacy(path)
}

func loadImatrixGGUF(path string) (map[string][]float32, error) {
	g, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--imatrix: %w", err)
	}
	defer g.Close()
	out := map[string][]float32{}
	for i := range g.Tensors {
		t := &g.Tensors[i]
		name, ok := strings.CutSuffix(t.Name, ".in_sum2")
		if !ok {
			continue
		}
		ct, ok := g.Tensor(name + ".counts")
		if !ok {
			return nil, fmt.Errorf("--imatrix %s: %s has no %s.counts", path, t.Name, name)
		}
		sum, err := g.ReadTensorF32(t)
		if err != nil {
			return nil, fmt.Errorf("--imatrix: %w", err)
		}
		counts, err := g.ReadTensorF32(ct)
		if err != nil {
			return nil, fmt.Errorf("--imatrix: %w", err)
		}
		cols := int(t.Cols())
		if len(counts) != len(sum)/cols || len(counts) != 1 {
			continue // per-expert matrices (MoE): not used by this converter
		}
		if counts[0] <= 0 {
			continue
		}
		imp := make([]float32, cols)
		for j := range imp {
			imp[j] = sum[j] / counts[0]
		}
		out[name] = imp
	}
	return out, nil
}

// loadImatrixLegacy reads llama.cpp's original imatrix.dat: int32 count, then
// per entry int32 name length, name, int32 ncall, int32 nval, nval float32
// (sums of squared activations over ncall chunks).
func loadImatrixLegacy(path string) (map[string][]float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--imatrix: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	r := bufio.NewReader(f)
	bad := func(format string, args ...any) error {
		return fmt.Errorf("--imatrix %s: not a llama.cpp imatrix (GGUF or legacy .dat): "+format, append([]any{path}, args...)...)
	}
	var n int32
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
		return nil, bad("%v", err)
	}
	if n <= 0 || int64(n) > size/16 {
		return nil, bad("entry count %d", n)
	}
	out := map[string][]float32{}
	for i := int32(0); i < n; i++ {
		var l int32
		if err := binary.Read(r, binary.LittleEndian, &l); err != nil || l <= 0 || l > 1024 {
			return nil, bad("entry %d: name length %d (%v)", i, l, err)
		}
		name := make([]byte, l)
		if _, err := io.ReadFull(r, name); err != nil {
			return nil, bad("entry %d: %v", i, err)
		}
		var hdr [2]int32
		if err := binary.Read(r, binary.LittleEndian, &hdr); err != nil {
			return nil, bad("entry %q: %v", name, err)
		}
		ncall, nval := hdr[0], hdr[1]
		if nval <= 0 || int64(nval) > size/4 {
			return nil, bad("entry %q: %d values", name, nval)
		}
		vals := make([]float32, nval)
		if err := binary.Read(r, binary.LittleEndian, vals); err != nil {
			return nil, bad("entry %q: %v", name, err)
		}
		for j, v := range vals {
			if math.IsNaN(float64(v)) || v < 0 {
				return nil, bad("entry %q: value %d is %v", name, j, v)
			}
			if ncall > 0 {
				vals[j] = v / float32(ncall)
			}
		}
		out[string(name)] = vals
	}
	return out, nil
}
