// Package converter turns a GGUF into a PocketGGUF: it picks what to compress
// and how (plan.go), trains shared or per-tensor tables through package quant,
// and streams the result into a temporary file renamed over the output only
// on success (convert.go).
package converter

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/progress"
	"github.com/pocketgguf/pocketgguf/quant"
)

// Options are the convert flags (cli/convert.go documents each).
type Options struct {
	BPW          float64 // target whole-file bits per weight; 0: no budget, a fixed type per tensor (see budget)
	VecLen       int     // sub-vector length v (0 = allocator's choice, 4 without --bpw)
	CodebookBits int     // index bits (0 = allocator's choice, 8 without --bpw)
	CodebookSize int     // K (0 = allocator's choice / 2^bits; per codebook for additive types)
	// Prefer picks the PQ type family; the zero value is PreferQuality, so
	// library callers keep their bytes; the CLI's --prefer defaults to speed.
	Prefer   Prefer
	Method   Method // zero value: quant.DefaultMethod
	Hidden   int
	Epochs   int
	LR       float64
	Seed     uint64
	Threads  int
	Sharing  Sharing  // zero value: SharingAuto
	RowScale RowScale // zero value: RowScaleAuto
	Imatrix  string   // llama.cpp imatrix file (.dat legacy or GGUF)
	// ImatrixData is an importance matrix already in memory (per tensor, the
	// mean squared activation of each input column), e.g. collected over
	// calibration text by the CLI's --calib-text; it excludes Imatrix.
	ImatrixData map[string][]float32
	// InputCovariance is, per weight, the mean x·xᵀ of its input over
	// calibration text (cols×cols, row-major), from --calib-text. PQ tensors
	// that have one are assigned with GPTQ error feedback (quant.AssignGPTQ).
	InputCovariance map[string][]float64

	KeepEmbeddings     bool   // never compress token_embd / output with PQ
	CompressEmbeddings bool   // always compress them with PQ
	OutputTensorType   string // like llama-quantize --output-tensor-type
	TokenEmbeddingType string // like llama-quantize --token-embedding-type

	// Resume keeps per-table and per-tensor checkpoints in OUT.partial/ and
	// reuses those of an interrupted run with the same input and options.
	Resume bool
	// CheckpointFor names the OUT whose OUT.partial/ --resume uses when the
	// conversion writes elsewhere first (convert --finetune's scratch file,
	// whose name changes from run to run); empty: OUT itself.
	CheckpointFor string

	Events Events // progress and messages; nil = silent
	// TempCreated, when set, is told the temporary output path as soon as it
	// exists, so a signal handler can remove it even mid-computation.
	TempCreated func(path string)
}

// Events receives progress. Units are weights processed; each tensor or
// table is one step.
type Events = progress.Events

type nopEvents = progress.Nop

func (o *Options) check() error {
	// The CLI parses these flags into their types; a library caller may
	// still set any string, so the same Parse functions check them here.
	if _, err := ParseSharing(string(o.Sharing)); err != nil {
		return err
	}
	if _, err := ParseRowScale(string(o.RowScale)); err != nil {
		return err
	}
	if _, err := ParseMethod(string(o.Method)); err != nil {
		return err
	}
	if o.VecLen != 0 && o.VecLen != 2 && o.VecLen != 4 && o.VecLen != 8 {
		return fmt.Errorf("--vec-len %d: want 2, 4 or 8", o.VecLen)
	}
	if o.CodebookBits != 0 && o.CodebookBits != 8 && o.CodebookBits != 12 && o.CodebookBits != 16 {
		return fmt.Errorf("--codebook-bits %d: want 8, 12 or 16", o.CodebookBits)
	}
	if o.VecLen != 0 && o.CodebookBits != 0 {
		if _, err := format.PQTypeFor(o.VecLen, o.CodebookBits); err != nil {
			return fmt.Errorf("--vec-len %d --codebook-bits %d: %v", o.VecLen, o.CodebookBits, err)
		}
	}
	if o.CodebookSize < 0 || o.CodebookSize > 1<<16 {
		return fmt.Errorf("--codebook-size %d: want 1..65536", o.CodebookSize)
	}
	if o.CodebookBits != 0 && o.CodebookSize > 1<<o.CodebookBits {
		return fmt.Errorf("--codebook-size %d does not fit %d-bit indices (max %d)", o.CodebookSize, o.CodebookBits, 1<<o.CodebookBits)
	}
	if _, err := ParsePrefer(string(o.Prefer)); err != nil {
		return err
	}
	if o.speed() {
		if o.method() != quant.MethodKMeans {
			return fmt.Errorf("--method %s trains plain tables only; --prefer speed needs additive ones (kmeans): add --prefer quality", o.Method)
		}
		if o.CodebookSize > format.AdditiveK {
			return fmt.Errorf("--codebook-size %d: --prefer speed uses additive types, whose codebooks have at most %d entries; add --prefer quality", o.CodebookSize, format.AdditiveK)
		}
		if o.VecLen != 0 || o.CodebookBits != 0 {
			found := false
			for _, ty := range format.PQTypes {
				if ty.Additive() && (o.VecLen == 0 || ty.V == o.VecLen) && (o.CodebookBits == 0 || ty.IndexBits == o.CodebookBits) {
					found = true
				}
			}
			if !found {
				return fmt.Errorf("--prefer speed: no additive type with%s%s (there are pqa_4x8, pqa_4x12, pqa_8x8, pqa_8x12, pqa_8x16); add --prefer quality for the plain types", flagText(" --vec-len", o.VecLen), flagText(" --codebook-bits", o.CodebookBits))
			}
		}
	}
	if o.Imatrix != "" && o.ImatrixData != nil {
		return fmt.Errorf("--imatrix and --calib-text both give an importance matrix; use one")
	}
	if o.BPW < 0 {
		return fmt.Errorf("--bpw %v: must be positive", o.BPW)
	}
	if o.KeepEmbeddings && o.CompressEmbeddings {
		return fmt.Errorf("--keep-embeddings and --compress-embeddings contradict each other")
	}
	if o.Threads < 0 {
		return fmt.Errorf("--threads %d is negative", o.Threads)
	}
	return nil
}

func flagText(flag string, v int) string {
	if v == 0 {
		return ""
	}
	return fmt.Sprintf("%s %d", flag, v)
}

// speed reports whether PQ choices are restricted to the additive types.
func (o *Options) speed() bool { return o.Prefer == PreferSpeed }

// allows reports whether the allocator may choose type ty. Quality does not
// mix in the additive types: at equal index bits each is less accurate than
// its plain twin (measured, choice.go), and the allocator took them on small
// models only for their smaller tables, which would change what quality
// has always written.
func (o *Options) allows(ty format.PQType) bool { return ty.Additive() == o.speed() }

// method is the quant method that trains the tables.
func (o *Options) method() string { return o.Method.String() }

// The planner does one of two jobs, and --bpw alone picks which:
//
//   - without --bpw every candidate tensor gets one fixed storage (the
//     --vec-len/--codebook-bits type, embeddings Q8_0) and the --sharing and
//     --row-scale rules lay out its tables: there is nothing to search;
//   - with --bpw every candidate gets a list of choices and the allocator
//     searches, under each table layout the flags allow, for the plan of
//     least estimated error whose predicted file fits the budget.
//
// budget is that switch: Options.budget says which job, and under a budget
// how many bytes the file may have.
type budget struct {
	bpw float64 // whole-file bits per weight; 0: no budget (fixed types)
}

func (o *Options) budget() budget { return budget{o.BPW} }

// set reports whether there is a budget to allocate under.
func (b budget) set() bool { return b.bpw > 0 }

// bytes is the largest predicted file that fits the budget for a model of
// elements weights: without a budget, any size.
func (b budget) bytes(elements int64) int64 {
	if !b.set() {
		return math.MaxInt64
	}
	return int64(math.Floor(b.bpw * float64(elements) / 8))
}

// exceeded reports whether a file of size bytes holding elements weights is
// over the budget (the exact size's check: never without a budget).
func (b budget) exceeded(size, elements int64) bool {
	return b.set() && float64(size)*8/float64(elements) > b.bpw
}

// The typed flags, as Ollama's fs/ggml types: each with its String and a
// Parse that gives the error the CLI reports for a bad flag value (and
// check, for values a library caller set). The zero value of each means its
// default (String names it), and Parse("") returns it.

// Sharing is --sharing: which tensors share a PQ table.
type Sharing string

const (
	// SharingAuto (the zero value too): without --bpw per tensor, else per
	// kind, else per model, the first whose tables cost at most 1/16 of the
	// indices they serve; with --bpw each of the three is allocated and the
	// least estimated error wins (layout.go).
	SharingAuto   Sharing = "auto"
	SharingTensor Sharing = "tensor" // one table per tensor
	SharingKind   Sharing = "kind"   // one per kind of tensor across layers (attn_q, ffn_up, ...)
	SharingModel  Sharing = "model"  // one per PQ option for the whole model
)

func (s Sharing) String() string { return cmp.Or(string(s), string(SharingAuto)) }

// ParseSharing parses --sharing.
func ParseSharing(s string) (Sharing, error) {
	return parseFlag("--sharing", s, "auto, tensor, kind or model", SharingAuto, SharingTensor, SharingKind, SharingModel)
}

// pinned reports whether s names one level (tensor, kind or model) rather
// than auto.
func (s Sharing) pinned() bool {
	return s == SharingTensor || s == SharingKind || s == SharingModel
}

// RowScale is --row-scale: whether PQ rows get an f16 scale each.
type RowScale string

const (
	// RowScaleAuto (the zero value too): without --bpw on for a table when
	// its scales cost at most 5% of the indices it serves; with --bpw both
	// are allocated and the least estimated error wins (layout.go).
	RowScaleAuto RowScale = "auto"
	RowScaleOn   RowScale = "on"
	RowScaleOff  RowScale = "off"
)

func (r RowScale) String() string { return cmp.Or(string(r), string(RowScaleAuto)) }

// ParseRowScale parses --row-scale.
func ParseRowScale(s string) (RowScale, error) {
	return parseFlag("--row-scale", s, "auto, on or off", RowScaleAuto, RowScaleOn, RowScaleOff)
}

// pinned reports whether r is on or off rather than auto.
func (r RowScale) pinned() bool { return r == RowScaleOn || r == RowScaleOff }

// Method is --method: how tables are trained (quant.Options.Method).
type Method string

const (
	MethodKMeans    Method = quant.MethodKMeans    // weighted Lloyd iterations
	MethodPocketLLM Method = quant.MethodPocketLLM // codebook + residual-MLP decoder
)

// String is the quant method name; the zero value is quant.DefaultMethod.
func (m Method) String() string { return cmp.Or(string(m), quant.DefaultMethod) }

// ParseMethod parses --method.
func ParseMethod(s string) (Method, error) {
	return parseFlag("--method", s, "pocketllm or kmeans", MethodPocketLLM, MethodKMeans)
}

// Prefer is --prefer: which family of PQ types the planner may choose.
type Prefer string

const (
	// PreferSpeed: the additive pqa_* types, whose kernels look codes up
	// in registers.
	PreferSpeed Prefer = "speed"
	// PreferQuality (the zero value too, so library callers keep their
	// bytes; the CLI defaults to speed): the plain pq_* types, one free
	// codebook of 2^bits entries, lower error at the same bits.
	PreferQuality Prefer = "quality"
)

func (p Prefer) String() string { return cmp.Or(string(p), string(PreferQuality)) }

// ParsePrefer parses --prefer.
func ParsePrefer(s string) (Prefer, error) {
	return parseFlag("--prefer", s, "speed or quality", PreferSpeed, PreferQuality)
}

// parseFlag is the Parse of one typed flag: "" (the zero value, its
// default) or one of values, else the error naming the flag and what it
// wants.
func parseFlag[T ~string](flag, s, want string, values ...T) (T, error) {
	if v := T(s); v == "" || slices.Contains(values, v) {
		return v, nil
	}
	return "", fmt.Errorf("%s %q: want %s", flag, s, want)
}
