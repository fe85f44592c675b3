package converter

import (
	"math"
	"strings"

	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/gguf"
)

// TensorReport is one row of `pocketgguf inspect`.
type TensorReport struct {
	Name    string   `json:"name"`
	Shape   []uint64 `json:"shape"`
	Type    string   `json:"type"`
	V       int      `json:"v,omitempty"`
	K       int      `json:"k,omitempty"`
	Table   string   `json:"table,omitempty"`
	Sharing string   `json:"sharing,omitempty"`
	// Bytes: data plus, for PQ tensors, its own pocket.tensor keys (scales)
	// and its share (by weights) of its table's codebook and decoder keys.
	Bytes   int64    `json:"bytes"`
	BPW     float64  `json:"bpw"`
	RelRMSE *float64 `json:"rel_rmse,omitempty"`
}

// Report is what `pocketgguf inspect` prints.
type Report struct {
	Path          string         `json:"path"`
	FileBytes     int64          `json:"file_bytes"`
	MetadataBytes int64          `json:"metadata_bytes"` // header without pocket.* keys
	PocketBytes   int64          `json:"pocket_bytes"`   // pocket.* keys
	Elements      int64          `json:"elements"`
	BPW           float64        `json:"bpw"`       // whole-file bits per weight
	F16Bytes      int64          `json:"f16_bytes"` // the model as an all-F16 GGUF (non-pocket metadata + 2 bytes/weight)
	RatioF16      float64        `json:"ratio_f16"`
	Tables        int            `json:"tables"`
	Tensors       []TensorReport `json:"tensors"`
}

// Inspect reads any GGUF and reports per-tensor storage and whole-file totals.
func Inspect(path string) (*Report, error) {
	g, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	tables, pts, err := format.Read(g)
	if err != nil {
		return nil, err
	}
	r := &Report{Path: path, FileBytes: g.Size, Tables: len(tables)}
	kvBytes := map[string]int64{}
	var header int64 = 24
	for _, kv := range g.KVs {
		n := kv.EncodedSize()
		kvBytes[kv.Key] = n
		header += n
		if strings.HasPrefix(kv.Key, "pocket.") {
			r.PocketBytes += n
		}
	}
	for i := range g.Tensors {
		header += g.Tensors[i].EncodedSize()
	}
	r.MetadataBytes = header - r.PocketBytes
	tableBytes := map[string]int64{}
	tableWeights := map[string]int64{}
	for name := range tables {
		for _, k := range []string{format.KeyTableV(name), format.KeyTableK(name), format.KeyTableLatent(name), format.KeyTableCodebook(name),
			format.KeyTableDecoderBlocks(name), format.KeyTableDecoderHidden(name), format.KeyTableDecoder(name), format.KeyTableSharing(name)} {
			tableBytes[name] += kvBytes[k]
		}
	}
	for _, pt := range pts {
		tableWeights[pt.Table] += int64(pt.Info.Elements())
	}
	for i := range g.Tensors {
		t := &g.Tensors[i]
		r.Elements += int64(t.Elements())
		tr := TensorReport{Name: t.Name, Shape: t.Shape, Type: gguf.TypeName(t.Type), Bytes: int64(t.Size())}
		if pt := pts[t.Name]; pt != nil {
			tb := tables[pt.Table]
			tr.V, tr.K, tr.Table, tr.Sharing = tb.V, tb.K, pt.Table, tb.Sharing
			tr.Bytes += kvBytes[format.KeyTensorTable(t.Name)] + kvBytes[format.KeyTensorScale(t.Name)] + kvBytes[format.KeyTensorRelRMSE(t.Name)]
			tr.Bytes += int64(math.Round(float64(tableBytes[pt.Table]) * float64(t.Elements()) / float64(tableWeights[pt.Table])))
			if !math.IsNaN(pt.RelRMSE) {
				x := pt.RelRMSE
				tr.RelRMSE = &x
			}
		}
		tr.BPW = float64(tr.Bytes) * 8 / float64(max(t.Elements(), 1))
		r.Tensors = append(r.Tensors, tr)
	}
	if r.Elements > 0 {
		r.BPW = float64(r.FileBytes) * 8 / float64(r.Elements)
	}
	r.F16Bytes = alignUp(r.MetadataBytes, int64(g.Alignment)) + 2*r.Elements
	r.RatioF16 = float64(r.F16Bytes) / float64(r.FileBytes)
	return r, nil
}
