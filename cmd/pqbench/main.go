//go:build unix

// Command pqbench measures the converter's training and assignment on a
// synthetic weight (default 4096 x 11008, the shape of Llama-7B's ffn_up)
// and prints a markdown table: bits per weight with everything counted,
// relative RMS error, time, weights/second and the projected time for a 7B
// model. Used for docs/bench/converter.md.
package main

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/quant"
)

// weights7B is Llama-2-7B's parameter count, for the projected time.
const weights7B = 6.74e9

type config struct {
	v, k, bits int
}

func main() {
	rows := flag.Int("rows", 4096, "matrix rows")
	cols := flag.Int("cols", 11008, "matrix columns")
	dists := flag.String("dist", "gauss,t4", "weight distributions: gauss, t4 (Student-t, nu=4)")
	methods := flag.String("method", "kmeans,pocketllm", "methods to run")
	cfgs := flag.String("configs", "4x256,8x16384,8x4096", "VxK list; index bits are the smallest PQ type's that holds K")
	threads := flag.Int("threads", 0, "threads (0 = all cores)")
	train := flag.Int("train", 0, "training sub-vectors (0 = quant.DefaultTrainVectors(K))")
	epochs := flag.Int("epochs", 0, "epochs (0 = method default)")
	seed := flag.Uint64("seed", 1, "seed")
	flag.Parse()

	var configs []config
	for _, c := range strings.Split(*cfgs, ",") {
		var cf config
		if _, err := fmt.Sscanf(c, "%dx%d", &cf.v, &cf.k); err != nil {
			fatal("bad config %q (want VxK, for example 4x256)", c)
		}
		for _, b := range []int{8, 12, 16} {
			if cf.k <= 1<<b {
				if _, err := format.PQTypeFor(cf.v, b); err == nil {
					cf.bits = b
					break
				}
			}
		}
		if cf.bits == 0 {
			fatal("no PQ type for %s", c)
		}
		configs = append(configs, cf)
	}
	fmt.Printf("| weights | method | type | V | K | bits/weight (all counted) | rel RMSE | train s | assign s | CPU s | weights/s (wall) | 7B (wall) | weights/s (CPU/%d) | 7B (CPU/%d) |\n", runtime.NumCPU(), runtime.NumCPU())
	fmt.Printf("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, dist := range strings.Split(*dists, ",") {
		m := makeMatrix(dist, *rows, *cols, *seed)
		for _, cf := range configs {
			for _, method := range strings.Split(*methods, ",") {
				opt := quant.Options{Method: method, V: cf.v, K: cf.k, RowScale: true, Seed: *seed,
					Threads: *threads, TrainVectors: *train, Epochs: *epochs}
				run(m, dist, cf, opt)
			}
		}
	}
}

func run(m quant.Matrix, dist string, cf config, opt quant.Options) {
	cpu0 := cpuSeconds()
	t0 := time.Now()
	s, err := quant.Sample(m, nil, opt, 0)
	if err != nil {
		fatal("%v", err)
	}
	tb, err := quant.Train(s, opt, nil)
	if err != nil {
		fatal("%v", err)
	}
	t1 := time.Now()
	lut := tb.BuildLUT(1 << cf.bits)
	a, err := quant.Assign(tb, lut, m, nil, opt, nil)
	if err != nil {
		fatal("%v", err)
	}
	t2 := time.Now()
	cpu := cpuSeconds() - cpu0
	ty, _ := format.PQTypeFor(cf.v, cf.bits)
	n := float64(m.Rows * m.Cols)
	bits := float64(ty.RowBytes(m.Cols)*8*m.Rows) + // indices
		float64(len(tb.Codebook)*16) + // f16 codebook
		float64(len(tb.Decoder)*32) + // f32 decoder
		float64(len(a.Scales)*16) // f16 row scales
	wall := t2.Sub(t0).Seconds()
	rate := n / wall
	// CPU time spread over all cores: what the run would take on otherwise
	// idle cores (the bench machine is shared).
	cpuRate := n / (cpu / float64(runtime.NumCPU()))
	fmt.Printf("| %s %dx%d | %s | %s | %d | %d | %.4f | %.4f | %.1f | %.1f | %.1f | %.3g | %s | %.3g | %s |\n",
		dist, m.Rows, m.Cols, opt.Method, ty.Name, cf.v, cf.k, bits/n, a.RelRMSE,
		t1.Sub(t0).Seconds(), t2.Sub(t1).Seconds(), cpu, rate, dur(weights7B/rate), cpuRate, dur(weights7B/cpuRate))
}

func dur(sec float64) string {
	return (time.Duration(sec) * time.Second).Round(time.Minute).String()
}

func makeMatrix(dist string, rows, cols int, seed uint64) quant.Matrix {
	rng := rand.New(rand.NewPCG(seed, 42))
	m := quant.Matrix{Name: dist, Rows: rows, Cols: cols, Data: make([]float32, rows*cols)}
	for i := range m.Data {
		switch dist {
		case "gauss":
			m.Data[i] = float32(0.02 * rng.NormFloat64())
		case "t4": // Student-t, nu = 4: N(0,1) / sqrt(chi2(4)/4)
			var chi float64
			for k := 0; k < 4; k++ {
				g := rng.NormFloat64()
				chi += g * g
			}
			m.Data[i] = float32(0.02 * rng.NormFloat64() / math.Sqrt(chi/4))
		default:
			fatal("unknown distribution %q (want gauss or t4)", dist)
		}
	}
	return m
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func fatal(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "pqbench: "+f+"\n", a...)
	os.Exit(1)
}
