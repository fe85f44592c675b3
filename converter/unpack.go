package converter

import (
	"context"
	"fmt"
	"strings"

	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/gguf"
)

// llama.cpp's llama_ftype values for the types unpack writes.
var fileTypeFor = map[format.GGMLType]uint32{gguf.TypeF32: 0, gguf.TypeF16: 1, gguf.TypeQ8_0: 7}

// Unpack rebuilds every PQ tensor of in through format.Table.BuildLUT (the
// reference decoder) into type ty (f32, f16 or q8_0) and writes a standard
// GGUF without pocket.* keys, which stock llama.cpp and Ollama load. Other
// tensors are copied byte-exact. Rows whose length does not suit q8_0 fall back to f16.
func Unpack(ctx context.Context, in, out string, ty format.GGMLType, ev Events) error {
	if ev == nil {
		ev = nopEvents{}
	}
	if _, ok := fileTypeFor[ty]; !ok {
		return fmt.Errorf("--type %s: want f32, f16 or q8_0", gguf.TypeName(ty))
	}
	g, err := gguf.Open(in)
	if err != nil {
		return err
	}
	defer g.Close()
	tables, pts, err := format.Read(g)
	if err != nil {
		return err
	}
	var kvs []gguf.KV
	for _, kv := range g.KVs {
		if strings.HasPrefix(kv.Key, "pocket.") {
			continue
		}
		if kv.Key == "general.file_type" && len(pts) > 0 {
			kv.Value = gguf.U32(fileTypeFor[ty])
		}
		kvs = append(kvs, kv)
	}
	infos := make([]gguf.TensorInfo, len(g.Tensors))
	var total int64
	for i, t := range g.Tensors {
		infos[i] = t
		if pts[t.Name] != nil {
			infos[i].Type = ty
			if ty == gguf.TypeQ8_0 && t.Cols()%gguf.QK8_0 != 0 {
				infos[i].Type = gguf.TypeF16
			}
		}
		total += int64(t.Elements())
	}
	f, err := gguf.CreateAtomic(out)
	if err != nil {
		return err
	}
	defer f.Abort()
	w, err := gguf.NewWriter(f, kvs, infos)
	if err != nil {
		return err
	}
	ev.Begin(total)
	luts := map[string][]float32{}
	for i := range g.Tensors {
		if err := ctx.Err(); err != nil {
			return err
		}
		t := &g.Tensors[i]
		ev.Step(t.Name, int64(t.Elements()))
		raw, err := g.ReadTensor(t)
		if err != nil {
			return err
		}
		msg := "copied"
		if pt := pts[t.Name]; pt != nil {
			tb := tables[pt.Table]
			if luts[pt.Table] == nil {
				luts[pt.Table] = pt.LUT(tb)
			}
			lut := luts[pt.Table]
			if len(lut) < pt.Type.Indices()*pt.Type.V { // a table shared with a wider-index type
				lut = pt.LUT(tb)
			}
			x := pt.Decode(raw, lut)
			if raw, err = gguf.FromFloat32(infos[i].Type, x); err != nil {
				return fmt.Errorf("%s: tensor %q: %w", in, t.Name, err)
			}
			msg = pt.Type.Name + " → " + gguf.TypeName(infos[i].Type)
		}
		if err := w.WriteTensor(i, raw); err != nil {
			return fmt.Errorf("writing %s: %w", out, err)
		}
		ev.EndStep(msg)
	}
	if err := w.Finish(kvs); err != nil {
		return err
	}
	return f.Commit()
}
