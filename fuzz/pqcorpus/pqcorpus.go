// Package pqcorpus builds PocketGGUF files for robustness tests: a minimal
// valid one, and malformed variants of any PocketGGUF (missing keys, wrong
// shapes, non-finite values, indices >= K, truncation), each labelled with
// what a reader must say about it. The Go fuzz tests use them as seeds and
// as a table of expected errors; the C sanitizer run loads the same files.
package pqcorpus

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/gguf"
)

// Case is one malformed (or deliberately odd but valid) file.
type Case struct {
	Name string // file-name friendly, e.g. "codebook-nan"
	// Want is a substring the Go reader's error must contain (a key, tensor
	// or table name, or what is wrong); empty means the file is valid and
	// must load (indices >= K read a zero row).
	Want []string
	Data []byte
}

// memFile is an in-memory io.WriterAt.
type memFile struct{ b []byte }

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	if end := int(off) + len(p); end > len(m.b) {
		m.b = append(m.b, make([]byte, end-len(m.b))...)
	}
	return copy(m.b[off:], p), nil
}

// Encode writes kvs and tensors (data[i] for tensor i, padded or cut to its size).
func Encode(kvs []gguf.KV, infos []gguf.TensorInfo, data [][]byte) ([]byte, error) {
	var m memFile
	w, err := gguf.NewWriter(&m, kvs, infos)
	if err != nil {
		return nil, err
	}
	for i, t := range w.Tensors() {
		d := make([]byte, t.Size())
		copy(d, data[i])
		if err := w.WriteTensor(i, d); err != nil {
			return nil, err
		}
	}
	if err := w.Finish(kvs); err != nil {
		return nil, err
	}
	return m.b, nil
}

// Minimal is a valid PocketGGUF of one pq_4x8 tensor "w" (8 columns, 2
// rows) on table "t" (K = 4, a one-block decoder of width 2, latent 3) with
// row scales: every structure FORMAT.md defines, in a few hundred bytes.
func Minimal() []byte {
	tb := format.Table{V: 4, K: 4, Latent: 3, Blocks: 1, Hidden: 2, Sharing: "tensor"}
	tb.Codebook = make([]float32, tb.K*tb.Latent)
	for i := range tb.Codebook {
		tb.Codebook[i] = float32(i%5) - 2
	}
	tb.Decoder = make([]float32, tb.DecoderLen())
	for i := range tb.Decoder {
		tb.Decoder[i] = float32(i%7)/8 - 0.3
	}
	kvs := []gguf.KV{
		{Key: "general.architecture", Value: gguf.Str("pocket-test")},
		{Key: format.KeyVersion, Value: gguf.U32(format.Version)},
		{Key: format.KeyMethod, Value: gguf.Str("pocketllm")},
		{Key: format.KeySeed, Value: gguf.U64(1)},
		{Key: format.KeyTensorTable("w"), Value: gguf.Str("t")},
		{Key: format.KeyTensorScale("w"), Value: gguf.U16s([]uint16{gguf.FloatToHalf(0.5), gguf.FloatToHalf(-2)})},
		{Key: format.KeyTableV("t"), Value: gguf.U32(uint32(tb.V))},
		{Key: format.KeyTableK("t"), Value: gguf.U32(uint32(tb.K))},
		{Key: format.KeyTableLatent("t"), Value: gguf.U32(uint32(tb.Latent))},
		{Key: format.KeyTableCodebook("t"), Value: gguf.F32s(tb.Codebook)},
		{Key: format.KeyTableDecoderBlocks("t"), Value: gguf.U32(uint32(tb.Blocks))},
		{Key: format.KeyTableDecoderHidden("t"), Value: gguf.U32(uint32(tb.Hidden))},
		{Key: format.KeyTableDecoder("t"), Value: gguf.F32s(tb.Decoder)},
		{Key: format.KeyTableSharing("t"), Value: gguf.Str(tb.Sharing)},
	}
	infos := []gguf.TensorInfo{{Name: "w", Shape: []uint64{8, 2}, Type: 101}}
	b, err := Encode(kvs, infos, [][]byte{{0, 1, 2, 3}})
	if err != nil {
		panic(err) // a fixed, valid file: an error here is a bug in gguf.Writer
	}
	return b
}

// MinimalAdditive is a valid PocketGGUF (version 2) of one pqa_4x8 tensor "w" (8 columns, 34
// rows: one interleaved group of 32 and two row-major rows) on table "t" (two codebooks of
// K = 4, a one-block decoder of width 2, latent 3) with row scales.
func MinimalAdditive() []byte {
	const rows = 34
	tb := format.Table{V: 4, K: 4, Latent: 3, Blocks: 1, Hidden: 2, Codebooks: 2, Sharing: "tensor"}
	tb.Codebook = make([]float32, tb.M()*tb.K*tb.Latent)
	for i := range tb.Codebook {
		tb.Codebook[i] = float32(i%5) - 2
	}
	tb.Decoder = make([]float32, tb.DecoderLen())
	for i := range tb.Decoder {
		tb.Decoder[i] = float32(i%7)/8 - 0.3
	}
	scales := make([]uint16, rows)
	for r := range scales {
		scales[r] = gguf.FloatToHalf(0.5 + float32(r%3))
	}
	kvs := append(format.HeaderKVs(format.VersionAdditive, "kmeans", 1), format.TableKVs("t", &tb)...)
	kvs = append([]gguf.KV{{Key: "general.architecture", Value: gguf.Str("pocket-test")}}, kvs...)
	kvs = append(kvs, format.TensorKVs("w", "t", scales, 0)...)
	data := make([]byte, rows*8/4*2/2) // P = (8/4)*2 codes of 4 bits a row
	for i := range data {
		data[i] = byte(i*37) & 0x33 // codes 0..3: inside K
	}
	infos := []gguf.TensorInfo{{Name: "w", Shape: []uint64{8, rows}, Type: 107}}
	b, err := Encode(kvs, infos, [][]byte{data})
	if err != nil {
		panic(err) // a fixed, valid file: an error here is a bug in gguf.Writer
	}
	return b
}

// file is a parsed PocketGGUF that can be re-encoded with changes.
type file struct {
	kvs   []gguf.KV
	infos []gguf.TensorInfo
	data  [][]byte
}

func parse(b []byte) (*file, error) {
	g, err := gguf.Parse(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, err
	}
	f := &file{kvs: g.KVs, infos: g.Tensors}
	for _, t := range g.Tensors {
		off := g.DataOffset + int64(t.Offset)
		f.data = append(f.data, b[off:off+int64(t.Size())])
	}
	return f, nil
}

func (f *file) clone() *file {
	c := &file{kvs: append([]gguf.KV(nil), f.kvs...), infos: append([]gguf.TensorInfo(nil), f.infos...)}
	for _, d := range f.data {
		c.data = append(c.data, bytes.Clone(d))
	}
	return c
}

func (f *file) set(key string, v gguf.Value) {
	for i := range f.kvs {
		if f.kvs[i].Key == key {
			f.kvs[i].Value = v
			return
		}
	}
	f.kvs = append(f.kvs, gguf.KV{Key: key, Value: v})
}

func (f *file) drop(key string) {
	for i := range f.kvs {
		if f.kvs[i].Key == key {
			f.kvs = append(f.kvs[:i], f.kvs[i+1:]...)
			return
		}
	}
}

func (f *file) get(key string) (gguf.Value, bool) {
	for _, kv := range f.kvs {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return gguf.Value{}, false
}

// floats returns a copy of an f32 or f16 array key as float32 and whether it was f16.
func (f *file) floats(key string) ([]float32, bool) {
	v, _ := f.get(key)
	x, _ := v.Float32s()
	a, _ := v.Arr()
	return append([]float32(nil), x...), a.Elem == gguf.ValUint16
}

func (f *file) setFloats(key string, x []float32, half bool) {
	if !half {
		f.set(key, gguf.F32s(x))
		return
	}
	f.set(key, format.Halves(x))
}

// Malformed derives the malformed variants of a valid PocketGGUF: for its
// first PQ tensor and that tensor's table, every way FORMAT.md's
// validation can fail, plus indices >= K (valid: they read zero rows).
func Malformed(valid []byte) ([]Case, error) {
	f, err := parse(valid)
	if err != nil {
		return nil, err
	}
	ti := -1
	for i, t := range f.infos {
		if _, ok := format.LookupPQ(t.Type); ok {
			ti = i
			break
		}
	}
	if ti < 0 {
		return nil, fmt.Errorf("pqcorpus: no PQ tensor in the file")
	}
	t := f.infos[ti]
	ty, _ := format.LookupPQ(t.Type)
	tv, _ := f.get(format.KeyTensorTable(t.Name))
	tname, _ := tv.Str()
	kv, _ := f.get(format.KeyTableK(tname))
	k, _ := kv.Uint()

	var cases []Case
	add := func(name string, want []string, edit func(c *file)) error {
		c := f.clone()
		edit(c)
		b, err := Encode(c.kvs, c.infos, c.data)
		if err != nil {
			return fmt.Errorf("pqcorpus: case %s: %w", name, err)
		}
		cases = append(cases, Case{Name: name, Want: want, Data: b})
		return nil
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	setAt := func(key string, i int, x float32) func(c *file) {
		return func(c *file) {
			v, half := c.floats(key)
			v[i%len(v)] = x
			c.setFloats(key, v, half)
		}
	}
	scaleKey := format.KeyTensorScale(t.Name)
	_, hasScale := f.get(scaleKey)
	rows := int(t.Rows())
	edits := []struct {
		name string
		want []string
		edit func(c *file)
	}{
		{"no-version", []string{format.KeyVersion}, func(c *file) { c.drop(format.KeyVersion) }},
		{"version-3", []string{format.KeyVersion}, func(c *file) { c.set(format.KeyVersion, gguf.U32(3)) }}, // 1 and 2 are known
		{"version-string", []string{format.KeyVersion}, func(c *file) { c.set(format.KeyVersion, gguf.Str("1")) }},
		{"no-tensor-table", []string{t.Name, format.KeyTensorTable(t.Name)}, func(c *file) { c.drop(format.KeyTensorTable(t.Name)) }},
		{"missing-table", []string{t.Name, "pocket.table.nosuch.v"}, func(c *file) { c.set(format.KeyTensorTable(t.Name), gguf.Str("nosuch")) }},
		{"no-k", []string{format.KeyTableK(tname)}, func(c *file) { c.drop(format.KeyTableK(tname)) }},
		{"k-zero", []string{tname, "codebook entries"}, func(c *file) { c.set(format.KeyTableK(tname), gguf.U32(0)) }},
		{"k-over-bits", []string{t.Name, tname}, func(c *file) {
			// K = 2^bits + 1 (16 + 1 for additive types) with a codebook of matching length: only
			// the type's bound is wrong.
			cb, half := c.floats(format.KeyTableCodebook(tname))
			lat := len(cb) / int(k) / ty.Codebooks
			c.set(format.KeyTableK(tname), gguf.U32(uint32(ty.MaxK()+1)))
			c.setFloats(format.KeyTableCodebook(tname), make([]float32, ty.Codebooks*(ty.MaxK()+1)*lat), half)
		}},
		{"k-huge", []string{format.KeyTableK(tname)}, func(c *file) { c.set(format.KeyTableK(tname), gguf.U32(math.MaxUint32)) }},
		{"k-negative", []string{format.KeyTableK(tname)}, func(c *file) { c.set(format.KeyTableK(tname), gguf.I32(-4)) }},
		{"v-wrong", []string{tname}, func(c *file) {
			other := 2
			if ty.V == 2 {
				other = 4
			}
			c.set(format.KeyTableV(tname), gguf.U32(uint32(other)))
		}},
		{"v-zero", []string{tname, "vector length"}, func(c *file) { c.set(format.KeyTableV(tname), gguf.U32(0)) }},
		{"latent-wrong", []string{tname, "codebook has"}, func(c *file) {
			lv, _ := c.get(format.KeyTableLatent(tname))
			l, _ := lv.Uint()
			c.set(format.KeyTableLatent(tname), gguf.U32(uint32(l+1)))
		}},
		{"latent-zero", []string{tname, "latent"}, func(c *file) { c.set(format.KeyTableLatent(tname), gguf.U32(0)) }},
		{"blocks-huge", []string{tname, "decoder"}, func(c *file) { c.set(format.KeyTableDecoderBlocks(tname), gguf.U32(1<<20)) }},
		{"hidden-huge", []string{format.KeyTableDecoderHidden(tname)}, func(c *file) { c.set(format.KeyTableDecoderHidden(tname), gguf.U32(1<<30)) }},
		{"hidden-2^31", []string{format.KeyTableDecoderHidden(tname)}, func(c *file) { c.set(format.KeyTableDecoderHidden(tname), gguf.U32(1<<31)) }},
		{"blocks-2^31", []string{format.KeyTableDecoderBlocks(tname)}, func(c *file) { c.set(format.KeyTableDecoderBlocks(tname), gguf.U32(1<<31)) }},
		{"codebook-short", []string{tname, "codebook has"}, func(c *file) {
			cb, half := c.floats(format.KeyTableCodebook(tname))
			c.setFloats(format.KeyTableCodebook(tname), cb[:len(cb)-1], half)
		}},
		{"codebook-i32", []string{format.KeyTableCodebook(tname)}, func(c *file) {
			cb, _ := c.floats(format.KeyTableCodebook(tname))
			c.set(format.KeyTableCodebook(tname), gguf.I32s(make([]int32, len(cb))))
		}},
		{"codebook-missing", []string{format.KeyTableCodebook(tname)}, func(c *file) { c.drop(format.KeyTableCodebook(tname)) }},
		{"codebook-nan", []string{tname, "codebook value"}, setAt(format.KeyTableCodebook(tname), 1, nan)},
		{"codebook-inf", []string{tname, "codebook value"}, setAt(format.KeyTableCodebook(tname), 2, inf)},
		{"decoder-nan", []string{tname, "decoder value"}, setAt(format.KeyTableDecoder(tname), 3, nan)},
		{"decoder-inf", []string{tname, "decoder value"}, setAt(format.KeyTableDecoder(tname), 0, -inf)},
		{"decoder-short", []string{tname, "decoder has"}, func(c *file) {
			d, half := c.floats(format.KeyTableDecoder(tname))
			c.setFloats(format.KeyTableDecoder(tname), d[:len(d)-1], half)
		}},
		{"decoder-long", []string{tname, "decoder has"}, func(c *file) {
			d, half := c.floats(format.KeyTableDecoder(tname))
			c.setFloats(format.KeyTableDecoder(tname), append(d, 1), half)
		}},
		{"decoder-missing", []string{format.KeyTableDecoder(tname)}, func(c *file) { c.drop(format.KeyTableDecoder(tname)) }},
		{"scale-short", []string{scaleKey}, func(c *file) { c.setFloats(scaleKey, make([]float32, rows-1), true) }},
		{"scale-long", []string{scaleKey}, func(c *file) { c.setFloats(scaleKey, make([]float32, rows+1), false) }},
		{"scale-string", []string{scaleKey}, func(c *file) { c.set(scaleKey, gguf.Str("1")) }},
		{"scale-nan", []string{t.Name, "scale of row"}, func(c *file) {
			s := make([]float32, rows)
			s[rows-1] = nan
			c.setFloats(scaleKey, s, !hasScale)
		}},
		{"scale-inf", []string{t.Name, "scale of row"}, func(c *file) {
			s := make([]float32, rows)
			s[0] = inf
			c.setFloats(scaleKey, s, false)
		}},
		{"row-not-block", []string{t.Name, "not a multiple"}, func(c *file) {
			c.infos[ti].Shape = append([]uint64{uint64(ty.BlockSize() + 1)}, c.infos[ti].Shape[1:]...)
		}},
		{"codebooks-wrong", []string{format.KeyTableCodebooks(tname)}, func(c *file) {
			// plain type on a two-codebook table, additive type on a table of one more codebook
			c.set(format.KeyTableCodebooks(tname), gguf.U32(uint32(ty.Codebooks%4+1)))
		}},
		{"indices-max", nil, func(c *file) { // every index 2^bits-1 >= K: valid, reads zero rows
			for j := range c.data[ti] {
				c.data[ti][j] = 0xFF
			}
		}},
	}
	// A second tensor on the same table whose type has the same index bits
	// but another v: the table's v must be checked for every tensor, not
	// only the first that builds its LUT.
	for j := ti + 1; j < len(f.infos); j++ {
		tj := f.infos[j]
		tyj, ok := format.LookupPQ(tj.Type)
		tvj, _ := f.get(format.KeyTensorTable(tj.Name))
		if g, _ := tvj.Str(); !ok || g != tname || tyj != ty {
			continue
		}
		other, err := format.PQTypeFor(map[int]int{2: 4, 4: 8, 8: 4}[ty.V], ty.IndexBits)
		if err != nil || int(tj.Cols())%other.BlockSize() != 0 {
			continue
		}
		edits = append(edits, struct {
			name string
			want []string
			edit func(c *file)
		}{"shared-table-other-v", []string{tj.Name, tname}, func(c *file) { c.infos[j].Type = other.ID }})
		break
	}
	// A 1-D tensor (a norm weight) stored as PQ on the same table: the
	// format allows it and the Go tools decode it; a loader must either run
	// it or refuse it, never abort in an op that has no PQ kernel.
	for j, tj := range f.infos {
		if _, isPQ := format.LookupPQ(tj.Type); len(tj.Shape) != 1 || isPQ || int(tj.Cols())%ty.BlockSize() != 0 {
			continue
		}
		edits = append(edits, struct {
			name string
			want []string
			edit func(c *file)
		}{"norm-as-pq", nil, func(c *file) {
			c.infos[j].Type = ty.ID
			c.set(format.KeyTensorTable(tj.Name), gguf.Str(tname))
		}})
		break
	}
	// Container-level hostile inputs that crashed ggml's gguf.cpp before patch
	// 0004 (SECURITY.md): an empty key (GGML_ASSERT), and a tensor with a zero
	// dimension (a division by zero in its overflow check; a zero-element tensor
	// is valid GGUF, so the file is bad only because the row scales still count
	// the old rows).
	edits = append(edits, []struct {
		name string
		want []string
		edit func(c *file)
	}{
		{"key-empty", []string{"metadata key", "empty"}, func(c *file) { c.kvs[0].Key = "" }},
		{"zero-dim", []string{scaleKey}, func(c *file) {
			if !hasScale {
				c.setFloats(scaleKey, make([]float32, rows), false)
			}
			c.infos[ti].Shape = append([]uint64{c.infos[ti].Shape[0], 0}, c.infos[ti].Shape[2:]...)
			c.data[ti] = nil
		}},
	}...)
	for _, e := range edits {
		if err := add(e.name, e.want, e.edit); err != nil {
			return nil, err
		}
	}
	// Lengths larger than the file (patch 0004 refuses them before allocating;
	// before, gguf.cpp sized a std::string/std::vector from them): the table
	// name's string length and the codebook array's count set to 2^40.
	{
		for _, h := range []struct {
			name, key string
			off       int // from the end of the key to the length field
		}{
			{"string-length-huge", format.KeyTensorTable(t.Name), 4},
			{"array-length-huge", format.KeyTableCodebook(tname), 8},
		} {
			b, err := setLength(valid, h.key, h.off, 1<<40)
			if err != nil {
				return nil, err
			}
			cases = append(cases, Case{Name: h.name, Want: []string{h.key, "past the end"}, Data: b})
		}
	}
	// Truncations: inside the header, and one byte short of the last tensor's data.
	g, _ := gguf.Parse(bytes.NewReader(valid), int64(len(valid)))
	var end int64
	for _, t := range g.Tensors {
		end = max(end, g.DataOffset+int64(t.Offset)+int64(t.Size()))
	}
	cases = append(cases,
		Case{Name: "truncated-header", Want: []string{"truncated"}, Data: bytes.Clone(valid[:g.DataOffset/3])},
		Case{Name: "truncated-data", Want: []string{"past the end"}, Data: bytes.Clone(valid[:end-1])},
	)
	return cases, nil
}

// setLength returns a copy of b with the u64 length field found off bytes
// after the (first) encoded key name set to n.
func setLength(b []byte, key string, off int, n uint64) ([]byte, error) {
	enc := binary.LittleEndian.AppendUint64(nil, uint64(len(key)))
	i := bytes.Index(b, append(enc, key...))
	if i < 0 {
		return nil, fmt.Errorf("pqcorpus: key %s not found", key)
	}
	c := bytes.Clone(b)
	binary.LittleEndian.PutUint64(c[i+len(enc)+len(key)+off:], n)
	return c, nil
}
