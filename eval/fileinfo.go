package eval

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/ollama/ollama/fs/gguf"
	"github.com/pocketgguf/pocketgguf/format"
)

// FileInfo is what a quantized GGUF is made of: how many tensors of each
// ggml type it holds and its whole-file bits per weight.
type FileInfo struct {
	Path     string         `json:"path"`
	Bytes    int64          `json:"bytes"`
	Elements int64          `json:"elements"` // weights in all tensors
	Tensors  int            `json:"tensors"`
	Types    map[string]int `json:"types"` // ggml type name → tensor count
	// TypeElements counts weights per type, to tell a mix's main type.
	TypeElements map[string]int64 `json:"type_elements"`
}

// BPW is whole-file bits per weight: file bytes × 8 over the elements of
// all tensors, so metadata, codebooks and unquantized tensors all count.
func (fi FileInfo) BPW() float64 { return float64(fi.Bytes) * 8 / float64(fi.Elements) }

// Mix lists the types by weight share, largest first: "iq4_nl 61% + q8_0 35% + f32 4%".
func (fi FileInfo) Mix() string {
	names := make([]string, 0, len(fi.TypeElements))
	for n := range fi.TypeElements {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := fi.TypeElements[names[i]], fi.TypeElements[names[j]]
		return a > b || a == b && names[i] < names[j]
	})
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %.0f%%", n, 100*float64(fi.TypeElements[n])/float64(fi.Elements))
	}
	return strings.Join(parts, " + ")
}

// typeName names ggml types as ggml does, PQ types included (Ollama's
// reader predates them).
func typeName(t gguf.TensorType) string {
	for _, pq := range format.PQTypes {
		if uint32(pq.ID) == uint32(t) {
			return pq.Name
		}
	}
	if s := t.String(); s != "unknown" {
		return s
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// ReadFileInfo reads the tensor infos of a GGUF file (not its data).
func ReadFileInfo(path string) (FileInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return FileInfo{}, err
	}
	f, err := gguf.Open(path)
	if err != nil {
		return FileInfo{}, fmt.Errorf("%s: not a readable GGUF: %w", path, err)
	}
	defer f.Close()
	fi := FileInfo{Path: path, Bytes: st.Size(), Types: map[string]int{}, TypeElements: map[string]int64{}}
	for _, ti := range f.TensorInfos() {
		if ti.Name == "" {
			return FileInfo{}, fmt.Errorf("%s: tensor info %d unreadable", path, fi.Tensors)
		}
		n := typeName(ti.Type)
		fi.Types[n]++
		fi.TypeElements[n] += ti.NumValues()
		fi.Elements += ti.NumValues()
		fi.Tensors++
	}
	if fi.Tensors != f.NumTensors() || fi.Tensors == 0 {
		return FileInfo{}, fmt.Errorf("%s: read %d of %d tensor infos", path, fi.Tensors, f.NumTensors())
	}
	return fi, nil
}
