package converter

import (
	"fmt"
	"strings"

	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/gguf"
	"github.com/pocketgguf/pocketgguf/quant"
)

// TensorPlan says how one input tensor is written.
type TensorPlan struct {
	Info     gguf.TensorInfo
	Class    class
	Choice   Choice
	RowScale bool
	Group    int // index into Plan.Groups when Choice.PQ, else -1
}

// GroupPlan is one table and the tensors that share it.
type GroupPlan struct {
	Name     string
	Sharing  string // tensor | kind | model
	Type     format.PQType
	K        int
	RowScale bool
	Members  []int // indices into Plan.Tensors
}

// Plan is the allocator's result.
type Plan struct {
	Tensors   []TensorPlan
	Groups    []GroupPlan
	Elements  int64 // weights in all tensors
	Predicted int64 // predicted output file size in bytes
	tp        tableParams
}

// planner holds what allocation needs about the input.
type planner struct {
	g        *gguf.File
	opt      *Options
	tensors  []TensorPlan
	options  [][]Choice // per tensor: allowed choices (len 1 = fixed)
	tp       tableParams
	baseSize int64 // header and data bytes that no choice changes
	elements int64
	// difficulty scales a tensor's PQ error estimates (calibrate.go); nil = 1.
	difficulty []float64
	tableCache map[optKey]int64
	kinds      []string
	distCache  map[distKey]float64
	scaleCache []int64
	pqKeyCache []int64
	layout     layout // table sharing and row scales being allocated for (layout.go)
}

// groupNameEstimate bounds table name lengths while allocating (exact names come later).
const groupNameEstimate = 40

func newPlanner(g *gguf.File, opt *Options) (*planner, error) {
	p := &planner{g: g, opt: opt}
	p.tp = tableParams{hidden: opt.Hidden, blocks: 3}
	if p.tp.hidden == 0 {
		p.tp.hidden = 16
	}
	if opt.method() == quant.MethodKMeans {
		p.tp.blocks = 0
	}
	for _, kv := range g.KVs {
		if strings.HasPrefix(kv.Key, "pocket.") {
			return nil, fmt.Errorf("%s: already a PocketGGUF (has %s); run pocketgguf unpack first", g.Path, kv.Key)
		}
	}
	p.baseSize = 24 + int64(g.Alignment) // fixed header fields, worst-case header padding
	for _, kv := range g.KVs {
		p.baseSize += kvEncodedSize(kv)
	}
	p.baseSize += format.HeaderKVsSize(opt.method())
	if _, ok := g.KV("general.file_type"); !ok {
		p.baseSize += keySize("general.file_type") + 4
	}
	for i := range g.Tensors {
		t := g.Tensors[i]
		c, err := classify(g.Path, &t)
		if err != nil {
			return nil, err
		}
		p.elements += int64(t.Elements())
		p.baseSize += tensorInfoSize(&t)
		p.tensors = append(p.tensors, TensorPlan{Info: t, Class: c, Group: -1})
	}
	return p, nil
}

// maxAutoK caps K when neither --codebook-bits nor --codebook-size is given:
// a 65536-entry table took over ten minutes to train on the development
// machine against 20 s for 4096 entries, and 16-bit indices with K <= 4096
// are dominated by 12-bit ones, so the allocator leaves 16-bit types to
// explicit flags.
const maxAutoK = 4096

// pqChoices lists the PQ options for a tensor allowed by the flags.
// Additive types have one K, 16 per codebook (smaller ones waste the 4-bit
// code), and, like the 16-bit plain types, pqa_8x16 (65536 sums to search)
// only when asked for with --codebook-bits 16.
func (p *planner) pqChoices(t *gguf.TensorInfo) []Choice {
	var out []Choice
	for _, ty := range format.PQTypes {
		if p.opt.VecLen != 0 && ty.V != p.opt.VecLen || p.opt.CodebookBits != 0 && ty.IndexBits != p.opt.CodebookBits {
			continue
		}
		if !p.opt.allows(ty) {
			continue
		}
		if ty.Additive() {
			if p.opt.CodebookBits == 0 && ty.Indices() > maxAutoK || int(t.Cols())%ty.BlockSize() != 0 || p.opt.CodebookSize > ty.MaxK() {
				continue
			}
			k := ty.MaxK()
			if p.opt.CodebookSize != 0 {
				k = p.opt.CodebookSize
			}
			out = append(out, Choice{PQ: true, Type: ty, K: k})
			continue
		}
		if p.opt.CodebookBits == 0 && p.opt.CodebookSize == 0 && ty.MaxK() > maxAutoK {
			continue
		}
		if int(t.Cols())%ty.BlockSize() != 0 {
			continue
		}
		ks := []int{ty.MaxK(), ty.MaxK() >> 2, ty.MaxK() >> 4}
		if p.opt.CodebookSize != 0 {
			if p.opt.CodebookSize > ty.MaxK() {
				continue
			}
			ks = []int{p.opt.CodebookSize}
		}
		for _, k := range ks {
			if k >= 16 || p.opt.CodebookSize != 0 {
				out = append(out, Choice{PQ: true, Type: ty, K: k})
			}
		}
	}
	return out
}

// denseChoices lists Q8_0, F16 and keep (the input type) where they apply.
func denseChoices(t *gguf.TensorInfo) []Choice {
	out := []Choice{{Dense: t.Type}}
	if t.Type != gguf.TypeQ8_0 && t.Type != gguf.TypeF16 && t.Type != gguf.TypeBF16 {
		out = append(out, Choice{Dense: gguf.TypeF16})
	}
	if t.Type != gguf.TypeQ8_0 && t.Cols()%gguf.QK8_0 == 0 {
		out = append(out, Choice{Dense: gguf.TypeQ8_0})
	}
	return out
}

// fixedPQ is the PQ choice without --bpw: --vec-len/--codebook-bits/--codebook-size
// or 4 and 8, the plain type (pq_4x8, K=256) or under --prefer speed its
// additive twin of the same bits (pqa_4x8, two codebooks of 16).
func (p *planner) fixedPQ() (Choice, error) {
	v, bits := p.opt.VecLen, p.opt.CodebookBits
	if v == 0 {
		v = 4
	}
	if bits == 0 {
		bits = 8
	}
	find := format.PQTypeFor
	if p.opt.speed() {
		find = func(v, bits int) (format.PQType, error) { return format.PQATypeFor(v, bits/4) }
	}
	ty, err := find(v, bits)
	if err != nil {
		return Choice{}, fmt.Errorf("--vec-len %d --codebook-bits %d: %v", v, bits, err)
	}
	k := p.opt.CodebookSize
	if k == 0 {
		k = ty.MaxK()
	}
	return Choice{PQ: true, Type: ty, K: k}, nil
}

// typeFlag parses --output-tensor-type / --token-embedding-type.
func typeFlag(flag, val string, t *gguf.TensorInfo, p *planner) (Choice, error) {
	if ty, ok := format.ParsePQType(strings.ToLower(val)); ok {
		if int(t.Cols())%ty.BlockSize() != 0 {
			return Choice{}, fmt.Errorf("%s %s: tensor %q has row length %d, not a multiple of %d", flag, val, t.Name, t.Cols(), ty.BlockSize())
		}
		k := p.opt.CodebookSize
		if k == 0 || k > ty.MaxK() {
			k = ty.MaxK()
		}
		return Choice{PQ: true, Type: ty, K: k}, nil
	}
	id, ok := gguf.ParseType(val)
	if !ok || (id != gguf.TypeF32 && id != gguf.TypeF16 && id != gguf.TypeBF16 && id != gguf.TypeQ8_0) {
		return Choice{}, fmt.Errorf("%s %q: want f32, f16, bf16, q8_0 or a PQ type (pq_4x8, pqa_4x8, ...)", flag, val)
	}
	if id == gguf.TypeQ8_0 && t.Cols()%gguf.QK8_0 != 0 {
		return Choice{}, fmt.Errorf("%s q8_0: tensor %q has row length %d, not a multiple of 32", flag, t.Name, t.Cols())
	}
	if id == gguf.TypeF32 && t.Type != gguf.TypeF32 && t.Type != gguf.TypeF16 && t.Type != gguf.TypeBF16 {
		return Choice{}, fmt.Errorf("%s f32: tensor %q is %s", flag, t.Name, gguf.TypeName(t.Type))
	}
	return Choice{Dense: id}, nil
}

// buildOptions fills p.options: the choices the allocator may make per tensor.
func (p *planner) buildOptions() error {
	explicitType := p.opt.VecLen != 0 || p.opt.CodebookBits != 0
	budgeted := p.opt.budget().set()
	p.options = make([][]Choice, len(p.tensors))
	for i := range p.tensors {
		tp := &p.tensors[i]
		t := &tp.Info
		switch tp.Class {
		case classCopy:
			p.options[i] = []Choice{{Dense: t.Type}}
			continue
		case classEmbedding:
			flag, val := "--token-embedding-type", p.opt.TokenEmbeddingType
			if t.Name == Output {
				flag, val = "--output-tensor-type", p.opt.OutputTensorType
			}
			if val != "" {
				c, err := typeFlag(flag, val, t, p)
				if err != nil {
					return err
				}
				p.options[i] = []Choice{c}
				continue
			}
		}
		pq := p.pqChoices(t)
		if !budgeted {
			fixed, err := p.fixedPQ()
			if err != nil {
				return err
			}
			pq = nil
			if int(t.Cols())%fixed.Type.BlockSize() == 0 {
				pq = []Choice{fixed}
			}
		}
		if len(pq) == 0 && tp.Class == classWeight && explicitType {
			return fmt.Errorf("%s: tensor %q has row length %d, not a multiple of the block size that --vec-len %d --codebook-bits %d need; choose another --vec-len",
				p.g.Path, t.Name, t.Cols(), p.opt.VecLen, p.opt.CodebookBits)
		}
		var opts []Choice
		switch {
		case tp.Class == classEmbedding && p.opt.KeepEmbeddings:
			opts = denseChoices(t)
		case tp.Class == classEmbedding && p.opt.CompressEmbeddings && len(pq) > 0:
			opts = pq
		case tp.Class == classEmbedding && !budgeted:
			opts = denseChoices(t)
		case !budgeted:
			opts = pq
			if len(opts) == 0 {
				opts = []Choice{{Dense: t.Type}}
			}
		default:
			opts = append(pq, denseChoices(t)...)
		}
		if !budgeted && len(opts) > 1 {
			opts = []Choice{defaultDense(t, opts)}
		}
		p.options[i] = opts
	}
	return nil
}

// defaultDense is the embedding's type without --bpw: Q8_0 when the input is
// wider and rows allow it, else the input type.
func defaultDense(t *gguf.TensorInfo, opts []Choice) Choice {
	for _, c := range opts {
		if !c.PQ && c.Dense == gguf.TypeQ8_0 {
			return c
		}
	}
	return Choice{Dense: t.Type}
}

// rowScaleFor decides row scales for a PQ option under the current layout:
// on or off as pinned, auto turns them on when their 16 bits per row cost at
// most 5% of the index bits.
func (p *planner) rowScaleFor(k optKey, rows, idxBytes int64) bool {
	switch p.layout.rowScale {
	case RowScaleOn:
		return true
	case RowScaleOff:
		return false
	}
	return rows*2*20 <= idxBytes
}
