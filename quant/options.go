// Package quant trains the tables of `pocketgguf convert`: weighted k-means
// and the PocketLLM meta-network (codebook + position-independent decoder),
// and assigns every sub-vector of a weight to its nearest decoded entry.
//
// Rule (docs/FORMAT.md): W[r, j*V+t] ≈ scale[r] * LUT[idx][t] with
// LUT = tb.BuildLUT(1<<bits). Everything is deterministic for a given seed,
// whatever Options.Threads is: work is cut into fixed chunks and reduced in
// chunk order.
package quant

import (
	"fmt"
	"runtime"

	"github.com/pocketgguf/pocketgguf/format"
)

// Matrix is one 2-D weight, row-major float32 (rows = ne1, cols = ne0 = row length).
type Matrix struct {
	Name       string
	Rows, Cols int
	Data       []float32
}

// Method names (pocket.method in the file).
const (
	MethodPocketLLM = "pocketllm"
	MethodKMeans    = "kmeans"
)

// DefaultMethod is what an empty Options.Method means. It is k-means: with
// the file format's position-independent decoder a table is just K points
// in V dimensions, which Lloyd's iterations already optimise, so pocketllm
// training measured equal (never better) quality at a higher cost and with
// the decoder's extra bytes (docs/bench/converter.md).
const DefaultMethod = MethodKMeans

// Options configures Sample, Train and Assign. Zero values mean the defaults
// noted on each field.
type Options struct {
	Method       string  // "kmeans" (default, see DefaultMethod) or "pocketllm"
	V            int     // sub-vector length (2, 4, 8)
	K            int     // codebook entries (<= 2^index bits, <= 65536)
	Latent       int     // latent dimension d for pocketllm (0 = V)
	Hidden       int     // decoder MLP hidden width (0 = 16)
	Blocks       int     // decoder residual blocks (0 = 3, <0 = none); kmeans always has none
	Epochs       int     // pocketllm Adam epochs (0 = 50); kmeans: Lloyd iterations (0 = 25)
	LR           float64 // pocketllm Adam learning rate (0 = 1.6e-2)
	Seed         uint64
	Threads      int  // 0 = all cores
	RowScale     bool // per-row scale, f16-rounded (stored as f16 in the file)
	TrainVectors int  // cap on training sub-vectors (deterministic subsample), 0 = DefaultTrainVectors(K^Codebooks)
	// Codebooks is M for an additive table (0 or 1: a plain table): M
	// codebooks of K <= 16 entries whose entries add up (additive.go);
	// Epochs then counts encode-and-refit rounds (0 = 30).
	Codebooks int
}

// Progress reports work done/total (any unit) for progress bars; may be nil.
type Progress func(done, total int64)

// DefaultTrainVectors is the training subsample size used when
// Options.TrainVectors is 0: 64 sub-vectors per codebook entry, within
// [2^16, 2^20]. Assignment of all vectors, not training, dominates run time.
func DefaultTrainVectors(k int) int {
	n := 64 * k
	if n < 1<<16 {
		n = 1 << 16
	}
	if n > 1<<20 {
		n = 1 << 20
	}
	return n
}

// resolved returns opt with defaults filled in, or an error naming the bad option.
func (opt Options) resolved() (Options, error) {
	o := opt
	if o.Method == "" {
		o.Method = DefaultMethod
	}
	if o.Method != MethodPocketLLM && o.Method != MethodKMeans {
		return o, fmt.Errorf("unknown method %q (want %q or %q)", o.Method, MethodPocketLLM, MethodKMeans)
	}
	if o.V != 2 && o.V != 4 && o.V != 8 {
		return o, fmt.Errorf("sub-vector length %d (want 2, 4 or 8)", o.V)
	}
	if o.K < 1 || o.K > 1<<16 {
		return o, fmt.Errorf("codebook size K=%d (want 1..65536)", o.K)
	}
	if o.Latent == 0 {
		o.Latent = o.V
	}
	if o.Latent < 1 || o.Latent > 64 {
		return o, fmt.Errorf("latent dimension %d (want 1..64)", o.Latent)
	}
	if o.Method == MethodKMeans && o.Latent != o.V {
		return o, fmt.Errorf("kmeans tables have latent dimension = V = %d, not %d", o.V, o.Latent)
	}
	if o.Hidden == 0 {
		o.Hidden = 16
	}
	if o.Hidden < 1 || o.Hidden > 1024 {
		return o, fmt.Errorf("decoder hidden width %d (want 1..1024)", o.Hidden)
	}
	switch {
	case o.Method == MethodKMeans || o.Blocks < 0:
		o.Blocks = 0
	case o.Blocks == 0:
		o.Blocks = 3
	case o.Blocks > 16:
		return o, fmt.Errorf("decoder blocks %d (want at most 16)", o.Blocks)
	}
	if o.Codebooks < 0 || o.Codebooks > 4 {
		return o, fmt.Errorf("%d codebooks (want 1..4)", o.Codebooks)
	}
	if o.Codebooks == 0 {
		o.Codebooks = 1
	}
	if o.Codebooks > 1 {
		if o.K > format.AdditiveK {
			return o, fmt.Errorf("additive tables have at most %d entries per codebook, not K=%d", format.AdditiveK, o.K)
		}
		if o.Method != MethodKMeans {
			return o, fmt.Errorf("additive tables are trained by %s (joint encoding and least-squares refit), not %s", MethodKMeans, o.Method)
		}
	}
	if o.Epochs < 0 {
		return o, fmt.Errorf("epochs %d is negative", o.Epochs)
	}
	if o.Epochs == 0 {
		if o.Codebooks > 1 {
			o.Epochs = additiveRounds
		} else if o.Method == MethodKMeans {
			o.Epochs = 25
		} else {
			o.Epochs = 50
		}
	}
	if o.LR == 0 {
		o.LR = 1.6e-2
	}
	if !(o.LR > 0 && o.LR < 10) {
		return o, fmt.Errorf("learning rate %v (want 0 < lr < 10)", o.LR)
	}
	if o.Threads < 0 {
		return o, fmt.Errorf("threads %d is negative", o.Threads)
	}
	if o.Threads == 0 {
		o.Threads = runtime.NumCPU()
	}
	if o.TrainVectors < 0 {
		return o, fmt.Errorf("train vectors %d is negative", o.TrainVectors)
	}
	if o.TrainVectors == 0 {
		o.TrainVectors = DefaultTrainVectors(productSize(o.K, o.Codebooks))
	}
	return o, nil
}
