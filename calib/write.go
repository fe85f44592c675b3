package calib

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"sort"

	"github.com/pocketgguf/pocketgguf/gguf"
)

// WriteDat writes per-weight mean squared activations in llama.cpp's
// legacy imatrix.dat layout (int32 count; per entry int32 name length, name,
// int32 ncall, int32 nval, nval float32 sums over ncall chunks), with ncall 1,
// so that `pocketgguf convert --imatrix` and llama-quantize read it back.
// Entries are sorted by name: same matrix, same bytes.
func WriteDat(path string, means map[string][]float32) error {
	names := make([]string, 0, len(means))
	for n, v := range means {
		if len(v) > 0 {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return fmt.Errorf("imatrix %s: no entries", path)
	}
	af, err := gguf.CreateAtomic(path)
	if err != nil {
		return err
	}
	defer af.Abort()
	w := bufio.NewWriter(af)
	put := func(v any) { binary.Write(w, binary.LittleEndian, v) }
	put(int32(len(names)))
	for _, n := range names {
		v := means[n]
		for j, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) || x < 0 {
				return fmt.Errorf("imatrix %s: %s column %d is %v", path, n, j, x)
			}
		}
		put(int32(len(n)))
		w.WriteString(n)
		put([2]int32{1, int32(len(v))})
		put(v)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("imatrix %s: %w", path, err)
	}
	return af.Commit()
}
