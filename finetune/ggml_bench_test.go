package finetune

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/pocketgguf/pocketgguf/bridge"
	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/testmodels"
)

// benchConfig is a testmodels preset, m30 (a 35 M-parameter Llama, the speed
// goal's 10–50 M range) or llama7b-4l (llama7b-2l with 4 layers).
func benchConfig(name string) (Config, error) {
	p, ok := testmodels.Presets[name]
	switch name {
	case "m30":
		p, ok = testmodels.Config{Dim: 512, FFN: 1536, Layers: 8, Heads: 8, HeadsKV: 4, Vocab: 8192}, true
	case "llama7b-4l": // the memory a layer adds, against llama7b-2l
		p, ok = testmodels.Presets["llama7b-2l"]
		p.Layers = 4
	}
	if !ok {
		return Config{}, fmt.Errorf("no preset %q", name)
	}
	hd := p.Dim / p.Heads
	return Config{Dim: p.Dim, Layers: p.Layers, Heads: p.Heads, KVHeads: p.HeadsKV, FF: p.FFN, Vocab: p.Vocab,
		HeadDim: hd, RopeDims: hd, RopeBase: 10000, Eps: 1e-5}, nil
}

// syntheticPQ is a PocketGGUF-shaped student of c with random values: every
// matrix but the embedding a PQ weight of one table (v = 8, K = 256, about
// 1 bit per weight plus row scales). Speed does not depend on the values,
// and this skips converting a 7B-shaped model first.
func syntheticPQ(c Config, seed uint64) *pqModel {
	rng := rand.New(rand.NewPCG(seed, 2))
	w := NewWeights(c, false)
	named := w.Named()
	const v, K = 8, 256
	tb := &format.Table{V: v, K: K, Latent: v, Codebook: make([]float32, K*v), Decoder: format.IdentityDecoder(v), Sharing: "model"}
	for i := range tb.Codebook {
		tb.Codebook[i] = float32(rng.NormFloat64())
	}
	pt := newPQTable("model.8x256", tb)
	m := &pqModel{w: w, tables: []*pqTable{pt}}
	for _, n := range sortedKeys(named) {
		x := named[n]
		switch {
		case strings.HasSuffix(n, "norm.weight"):
			for i := range x {
				x[i] = 1
			}
			m.norms = append(m.norms, n)
		case n == "token_embd.weight":
			for i := range x {
				x[i] = 0.02 * float32(rng.NormFloat64())
			}
		default:
			cols, rows := denseShape(c, n)
			t := &pqTensor{name: n, rows: rows, cols: cols, v: v, table: pt, dense: x, idx: make([]uint32, rows*cols/v),
				scales: make([]float32, rows), gScales: make([]float32, rows)}
			for i := range t.idx {
				t.idx[i] = uint32(rng.IntN(K))
			}
			for i := range t.scales {
				t.scales[i] = 0.02
			}
			m.tensors = append(m.tensors, t)
		}
	}
	m.materialize()
	return m
}

func randomTeacher(n, V, k int, seed uint64) *bridge.Teacher {
	rng := rand.New(rand.NewPCG(seed, 3))
	te := &bridge.Teacher{K: k, Idx: make([]int32, n*k), LogP: make([]float32, n*k), Rest: make([]float32, n)}
	for t := 0; t < n; t++ {
		perm := rng.Perm(V)[:k]
		for i, j := range perm {
			te.Idx[t*k+i], te.LogP[t*k+i] = int32(j), float32(-2-0.1*float64(i))
		}
		te.Rest[t] = -3
	}
	return te
}

// cpuTime is the process' user and system CPU seconds so far.
func cpuTime() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func envInt(key string, def int) int {
	if x, err := strconv.Atoi(os.Getenv(key)); err == nil && x > 0 {
		return x
	}
	return def
}

// BenchmarkTrainStep is one fine-tuning step (forward, top-64 KL, backward,
// gradients of LUTs, scales and norms) of B sequences of T tokens on 2
// threads, on each engine:
//
//	POCKET_BENCH_MODEL=small go test ./finetune -run X -bench TrainStep -benchtime 3x
//
// POCKET_BENCH_MODEL is a testmodels preset or m30; POCKET_BENCH_T and
// POCKET_BENCH_B set T (256) and B (2); POCKET_BENCH_ENGINES (go,ggml) picks engines.
func BenchmarkTrainStep(b *testing.B) {
	name := os.Getenv("POCKET_BENCH_MODEL")
	if name == "" {
		name = "small"
	}
	c, err := benchConfig(name)
	if err != nil {
		b.Fatal(err)
	}
	T, B, threads := envInt("POCKET_BENCH_T", 256), envInt("POCKET_BENCH_B", 2), envInt("POCKET_BENCH_THREADS", 2)
	engines := os.Getenv("POCKET_BENCH_ENGINES")
	if engines == "" {
		engines = "go,ggml"
	}
	m := syntheticPQ(c, 1)
	seqs := make([][]int32, B)
	te := make([]*bridge.Teacher, B)
	for i := range seqs {
		seqs[i] = randomSeqs(1, T, c.Vocab)[0]
		te[i] = randomTeacher(T, c.Vocab, DefaultTopK, uint64(i))
	}
	scale := float32(1 / float64(T*B))
	for _, eng := range strings.Split(engines, ",") {
		b.Run(fmt.Sprintf("model=%s/engine=%s", name, eng), func(b *testing.B) {
			cpu0 := cpuTime()
			switch eng {
			case EngineGo:
				lanes, passes := make([]*Weights, B), make([]*pass, B)
				for i := range lanes {
					lanes[i], passes[i] = NewWeights(c, false), newPass(c, T)
				}
				b.ResetTimer()
				for range b.N {
					parallelFor(B, threads, func(i int) {
						for _, x := range lanes[i].Named() {
							clear(x)
						}
						passes[i].forward(m.w, seqs[i])
						klGradTopK(passes[i].logits, te[i], T, c.Vocab, scale)
						passes[i].backward(m.w, lanes[i], seqs[i])
					})
					for _, g := range lanes[1:] {
						dst, src := lanes[0].Named(), g.Named()
						for n, x := range dst {
							axpy(1, src[n], x)
						}
					}
					m.pullGradients(lanes[0])
				}
			case EngineGGML:
				e, err := newGGMLEngine(c, m, threads, false)
				if err != nil {
					b.Fatal(err)
				}
				defer e.close()
				b.ResetTimer()
				for range b.N {
					if _, err := e.run(seqs, te, scale, true, true); err != nil {
						b.Fatal(err)
					}
					m.codebookGrads()
				}
				b.StopTimer()
				st, cb := e.tr.Bytes()
				b.ReportMetric(float64(st)/(1<<20), "static-MiB")
				b.ReportMetric(float64(cb)/(1<<20), "compute-MiB")
			default:
				b.Fatalf("engine %q", eng)
			}
			b.ReportMetric(float64(T*B*b.N)/b.Elapsed().Seconds(), "tokens/s")
			// CPU seconds per step: on a machine shared with other jobs the
			// wall time varies with their load, this much less.
			b.ReportMetric((cpuTime()-cpu0)/float64(b.N), "cpu-s/op")
			var ru syscall.Rusage
			if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
				b.ReportMetric(float64(ru.Maxrss)/(1<<10), "peak-RSS-MiB")
			}
		})
	}
}
